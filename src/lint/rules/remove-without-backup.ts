import type { LintRule } from '../rule.js';
import { stepsBefore, valueKey } from '../step-values.js';

/** Never lose the old certificate: a removal needs an earlier backup of the same thumbprint. */
export const removeWithoutBackup: LintRule = {
  id: 'remove-without-backup',
  severity: 'error',
  description: 'remove-certificate needs an earlier backup-certificate of the same thumbprint.',
  check({ runbook, report }) {
    for (const step of [...runbook.steps, ...runbook.onFailure]) {
      if (step.action.name !== 'remove-certificate') continue;
      const thumbprint = valueKey(step.with.get('thumbprint'));
      const backedUp = stepsBefore(runbook, step).some(
        (earlier) => earlier.action.name === 'backup-certificate' && valueKey(earlier.with.get('thumbprint')) === thumbprint,
      );
      if (!backedUp) {
        report(
          [...step.path, 'with', 'thumbprint'],
          `step '${step.id}' removes a certificate that no earlier step backs up`,
          'add a backup-certificate step with the same thumbprint before it',
        );
      }
    }
  },
};
