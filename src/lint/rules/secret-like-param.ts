import type { LintRule } from '../rule.js';

const SECRET_NAME = /pass(word)?|pwd|secret|token|credential|apikey|api_key/i;

/** A password in a string param would be printed in the plan and typed on command lines. */
export const secretLikeParam: LintRule = {
  id: 'plaintext-secret',
  severity: 'warning',
  description: 'A param that looks like a password but is not of type secret, or a script that builds a SecureString from plain text.',
  check({ runbook, report }) {
    for (const [name, param] of runbook.params) {
      if (param.type === 'secret' || !SECRET_NAME.test(name)) continue;
      report(['params', name, 'type'], `param '${name}' looks like a secret but has type ${param.type}: its value would be shown in the plan`, 'use type: secret with env: VARIABLE');
    }
    for (const step of [...runbook.steps, ...runbook.onFailure]) {
      const script = step.rawWith['script'];
      if (step.action.name === 'powershell' && typeof script === 'string' && /-AsPlainText/i.test(script)) {
        report([...step.path, 'with', 'script'], `step '${step.id}' converts plain text to a SecureString: the text is in the runbook and in script block logs`, 'pass secrets as secret params instead');
      }
    }
  },
};
