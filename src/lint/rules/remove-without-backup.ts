import type { FieldValue, Step } from '../../runbook/model.js';
import { formatReference } from '../../runbook/template.js';
import type { LintRule } from '../rule.js';
import { stepsBefore, valueKey } from '../step-values.js';

/**
 * Never lose the old certificate: a removal needs a backup that surely ran
 * before it, of the same certificate on the same server. A backup that runs
 * only `when` something holds, or whose failure is ignored, does not count:
 * the removal would go ahead without it. Rollback steps can rely only on
 * backups in the rollback itself (which main steps ran is not known).
 */
export const removeWithoutBackup: LintRule = {
  id: 'remove-without-backup',
  severity: 'error',
  description: 'remove-certificate needs an earlier backup-certificate of the same thumbprint on the same server that always runs (no when, no continueOnError).',
  check({ runbook, report }) {
    for (const step of [...runbook.steps, ...runbook.onFailure]) {
      if (step.action.name !== 'remove-certificate') continue;
      const candidates = stepsBefore(runbook, step).filter((earlier) => earlier.phase === step.phase && earlier.action.name === 'backup-certificate' && sameCertificate(earlier, step));
      if (candidates.some((backup) => problemWith(backup, step) === undefined)) continue;
      const [backup] = candidates;
      const path = [...step.path, 'with', 'thumbprint'];
      if (backup === undefined) {
        report(path, `step '${step.id}' removes a certificate that no earlier step${step.phase === 'onFailure' ? ' of onFailure' : ''} backs up`, 'add a backup-certificate step with the same thumbprint and server before it');
      } else {
        report(path, `step '${step.id}' removes a certificate whose backup (step '${backup.id}') ${problemWith(backup, step) ?? ''}`, `let step '${backup.id}' always run: remove its when and continueOnError, or give the removal the same when`);
      }
    }
  },
};

/** Why a backup may not have run before the removal, or undefined when it surely did. */
function problemWith(backup: Step, removal: Step): string | undefined {
  if (backup.continueOnError) return 'may fail without stopping the run (continueOnError: true)';
  const when = backup.when;
  if (when === undefined || when === true) return undefined;
  if (when === false) return 'never runs (when: false)';
  // The removal runs only when the backup did: every condition of the removal is one of the backup's.
  const conditions = new Set(when.map(formatReference));
  if (typeof removal.when === 'object' && removal.when.every((ref) => conditions.has(formatReference(ref)))) return undefined;
  return `runs only when ${when.map(formatReference).join(' or ')} is true`;
}

function sameCertificate(backup: Step, removal: Step): boolean {
  const server = (step: Step): string | undefined => valueKey(step.with.get('server'));
  return thumbprintKey(backup.with.get('thumbprint')) === thumbprintKey(removal.with.get('thumbprint')) && server(backup) === server(removal);
}

/** Thumbprints are hexadecimal: case and spaces do not matter in literals. */
function thumbprintKey(value: FieldValue | undefined): string | undefined {
  if (value?.kind === 'literal' && typeof value.value === 'string') return valueKey({ kind: 'literal', value: value.value.replace(/\s+/g, '').toUpperCase() });
  return valueKey(value);
}
