import type { LintRule } from '../rule.js';
import { knownListValue, stepsAfter } from '../step-values.js';

/** The services that must restart before POP or IMAP use a new certificate name. */
export const POP_IMAP_SERVICES: Readonly<Record<string, readonly string[]>> = {
  POP: ['MSExchangePop3', 'MSExchangePOP3BE'],
  IMAP: ['MSExchangeImap4', 'MSExchangeIMAP4BE'],
};

/** A new X509CertificateName takes effect only after the front- and back-end services restart. */
export const popImapRestartMissing: LintRule = {
  id: 'pop-imap-restart-missing',
  severity: 'error',
  description: 'A POP/IMAP certificate name change without a later restart of MSExchangePop3, MSExchangePOP3BE, MSExchangeImap4, MSExchangeIMAP4BE.',
  check({ runbook, report }) {
    for (const step of runbook.steps) {
      if (step.action.name !== 'set-pop-imap-certificate-name') continue;
      const protocols = knownListValue(runbook, step, 'protocols') ?? ['POP', 'IMAP'];
      const needed = protocols.flatMap((protocol) => POP_IMAP_SERVICES[protocol] ?? []);
      const restarted = new Set(
        stepsAfter(runbook, step)
          .filter((later) => later.action.name === 'restart-services')
          .flatMap((later) => knownListValue(runbook, later, 'services') ?? [])
          .map((service) => service.toLowerCase()),
      );
      const missing = needed.filter((service) => !restarted.has(service.toLowerCase()));
      if (missing.length === 0) continue;
      report(
        [...step.path, 'id'],
        `step '${step.id}' changes the POP/IMAP certificate name, but ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not restarted afterwards`,
        `add a restart-services step for ${missing.join(', ')}; the new name takes effect only after a restart`,
      );
    }
  },
};
