import type { RunSummary } from '../engine/execute.js';
import type { Plan } from '../plan/compile.js';

type Outputs = ReadonlyMap<string, Readonly<Record<string, unknown>>>;

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/**
 * The renewal's outcome in a few lines: old and new certificate, where the backup of the old one
 * is, or why it stays, and every warning the preflight found. Read from the outputs of the plan's
 * preflight-renewal, backup-certificate and remove-certificate steps, whatever their ids; undefined
 * for a plan without a preflight (any other runbook).
 */
export function renewalSummarizer(plan: Plan): ((outputs: Outputs) => RunSummary | undefined) | undefined {
  const preflight = plan.steps.find((step) => step.action === 'preflight-renewal');
  if (!preflight) return undefined;
  const backup = plan.steps.find((step) => step.action === 'backup-certificate');
  return (outputs) => {
    const found = outputs.get(preflight.id);
    if (!found) return undefined;
    const old = text(found['oldThumbprint']);
    const fresh = text(found['newThumbprint']);
    const backupPath = backup ? text(outputs.get(backup.id)?.['path']) : '';
    const decisions = Array.isArray(found['decisions']) ? found['decisions'].map(String) : [];
    const kept = text(found['keepReason']);
    const lines = [
      found['renew'] === false ? `already renewed: ${fresh} serves Default Web Site *:443` : `renewal: old ${old || '(none bound)'} -> new ${fresh}`,
      ...(backupPath ? [`backup of the old certificate: ${backupPath}`] : []),
      ...(kept && found['renew'] !== false ? [`the old certificate stays in the store: ${kept}`] : []),
      ...decisions.filter((decision) => decision.startsWith('warning: ')),
    ];
    return { lines, data: { oldThumbprint: old, newThumbprint: fresh, backupPath, keptBecause: kept, alreadyRenewed: found['renew'] === false, decisions } };
  };
}
