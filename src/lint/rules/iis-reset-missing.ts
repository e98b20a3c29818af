import type { LintRule } from '../rule.js';
import { knownListValue, stepsAfter } from '../step-values.js';

/** IIS keeps serving the old certificate (and the OWA cookie key) until it restarts (P15). */
export const iisResetMissing: LintRule = {
  id: 'iis-reset-missing',
  severity: 'error',
  description: 'IIS enabled without a later iis-reset.',
  check({ runbook, report }) {
    for (const step of runbook.steps) {
      if (step.action.name !== 'enable-certificate') continue;
      const services = knownListValue(runbook, step, 'services');
      if (services !== undefined && !services.includes('IIS')) continue;
      if (stepsAfter(runbook, step).some((later) => later.action.name === 'iis-reset')) continue;
      report(
        [...step.path, 'with', 'services'],
        `step '${step.id}' ${services === undefined ? 'may enable' : 'enables'} the certificate for IIS, but no later step restarts IIS`,
        'add an iis-reset step after it',
      );
    }
  },
};
