import type { LintRule } from '../rule.js';
import { knownListValue, stepsAfter } from '../step-values.js';

/**
 * Enabling POP or IMAP is not enough: with a wildcard certificate Exchange
 * refuses it, and in every case the protocols pick their certificate by
 * X509CertificateName (P8).
 */
export const popImapNameMissing: LintRule = {
  id: 'pop-imap-name-missing',
  severity: 'error',
  description: 'POP or IMAP enabled without a later set-pop-imap-certificate-name.',
  check({ runbook, report }) {
    for (const step of runbook.steps) {
      if (step.action.name !== 'enable-certificate') continue;
      const services = knownListValue(runbook, step, 'services');
      const enablesPopImap = services === undefined || services.some((service) => service === 'POP' || service === 'IMAP');
      if (!enablesPopImap) continue;
      if (stepsAfter(runbook, step).some((later) => later.action.name === 'set-pop-imap-certificate-name')) continue;
      report(
        [...step.path, 'with', 'services'],
        `step '${step.id}' ${services === undefined ? 'may enable' : 'enables'} POP or IMAP, but no later step sets their certificate name`,
        'add a set-pop-imap-certificate-name step with the FQDN clients use',
      );
    }
  },
};
