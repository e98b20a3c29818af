import type { LintRule } from '../rule.js';

/** Raw scripts bypass every check exch-cert makes on its actions. */
export const powershellStep: LintRule = {
  id: 'powershell-step',
  severity: 'warning',
  description: 'A powershell step: raw script, not checked like the catalog actions.',
  check({ runbook, report }) {
    for (const step of [...runbook.steps, ...runbook.onFailure]) {
      if (step.action.name !== 'powershell') continue;
      report([...step.path, 'action'], `step '${step.id}' runs a raw PowerShell script`, 'prefer a catalog action (`exch-cert actions`); review this script by hand');
    }
  },
};
