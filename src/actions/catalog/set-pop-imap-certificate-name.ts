import { lines, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field, FQDN_PATTERN } from '../fields.js';

const CMDLETS = {
  POP: { get: 'Get-PopSettings', set: 'Set-PopSettings' },
  IMAP: { get: 'Get-ImapSettings', set: 'Set-ImapSettings' },
} as const;

/**
 * Set-PopSettings / Set-ImapSettings -X509CertificateName: how POP and IMAP
 * pick their certificate (required for wildcard certificates). The new name takes effect only
 * after MSExchangePOP3(BE) / MSExchangeIMAP4(BE) restart. Each change is read back.
 */
export const setPopImapCertificateName = defineAction({
  name: 'set-pop-imap-certificate-name',
  summary: 'Set the certificate name POP and IMAP use (Set-PopSettings / Set-ImapSettings -X509CertificateName).',
  runsOn: 'exchange',
  exchangeCmdlets: ['Get-PopSettings', 'Set-PopSettings', 'Get-ImapSettings', 'Set-ImapSettings'],
  changes: true,
  destructive: false,
  fields: {
    server: field.server(),
    name: field.string('FQDN clients use for POP and IMAP, e.g. mail.contoso.com (no wildcard).', {
      required: true,
      pattern: FQDN_PATTERN,
      patternMessage: 'expected an FQDN such as mail.contoso.com (no wildcard)',
    }),
    protocols: field.list('Which protocols to set.', { enum: ['POP', 'IMAP'], default: ['POP', 'IMAP'], planTime: true }),
  },
  outputs: {
    changed: { type: 'boolean', description: 'Whether a name was set now (false when both already had it).' },
  },
  title: (input) => `Set the ${input.list('protocols').join(' and ')} certificate name to ${input.describe('name')}`,
  compile: (input) => {
    const server = input.expr('server');
    return lines(
      `$name = ${input.expr('name')}`,
      '$changed = $false',
      ...input.list('protocols').map((protocol) => {
        const cmdlets = CMDLETS[protocol as keyof typeof CMDLETS];
        const current = `[string](${psExchange(cmdlets.get, [['Server', server]])}).X509CertificateName`;
        return lines(
          `if (${current} -ne $name) {`,
          `    ${psExchange(cmdlets.set, [['Server', server], ['X509CertificateName', '$name']])}`,
          `    if (${current} -ne $name) { throw ('exch-cert: ${cmdlets.set} reported no error, but ${protocol} still has another X509CertificateName') }`,
          '    $changed = $true',
          '}',
        );
      }),
      'if (-not $changed) { Set-ExchCertUnchanged }',
      "Set-ExchCertOutput -Name 'changed' -Value $changed",
    );
  },
});
