import type { LintRule } from '../rule.js';

/** A runbook that changes the server must prove the server still works afterwards. */
export const healthCheckMissing: LintRule = {
  id: 'health-check-missing',
  severity: 'error',
  description: 'A runbook that changes the server without a test-service-health step after the first change.',
  check({ runbook, report }) {
    const firstChange = runbook.steps.findIndex((step) => step.action.changes);
    if (firstChange === -1) return;
    if (runbook.steps.slice(firstChange + 1).some((step) => step.action.name === 'test-service-health')) return;
    report(
      [...(runbook.steps[firstChange]?.path ?? ['steps']), 'id'],
      'this runbook changes the server but never runs test-service-health afterwards',
      'add a test-service-health step after the changes',
    );
  },
};
