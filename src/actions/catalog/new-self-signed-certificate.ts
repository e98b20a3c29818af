import { lines, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * New-ExchangeCertificate without -GenerateRequest: a self-signed certificate,
 * as the seed's optional step makes. -Services None, because the cmdlet's
 * default (IMAP, POP, SMTP) would silently take over SMTP; enable it
 * explicitly with enable-certificate. Exportable by default, so it can be
 * backed up (P5).
 */
export const newSelfSignedCertificate = defineAction({
  name: 'new-self-signed-certificate',
  summary: 'Create a self-signed Exchange certificate (New-ExchangeCertificate), enabled for no service until you say so.',
  runsOn: 'exchange',
  exchangeCmdlets: ['New-ExchangeCertificate', 'Get-ExchangeCertificate'],
  changes: true,
  destructive: false,
  fields: {
    server: field.server(),
    subjectName: field.string("Subject, e.g. 'CN=EXCH01'.", { required: true, pattern: /^CN=[^,]+(?:,\s*[A-Z]+=[^,]+)*$/, patternMessage: "expected a subject such as 'CN=EXCH01'" }),
    domains: field.list('DNS names for the certificate (subject alternative names), e.g. EXCH01 and exch01.contoso.com.', {
      required: true,
      pattern: /^(?:\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*$/,
      patternMessage: 'expected DNS names such as exch01.contoso.com',
    }),
    friendlyName: field.string('Friendly name shown in Exchange (under 64 characters).', { maxLength: 63 }),
    exportable: field.boolean('Make the private key exportable (needed for backups).', { default: true }),
    // Exchange takes 1024, 2048 or 4096; 1024 is too weak for anything.
    keySize: field.number('RSA key size in bits: 2048 or 4096.', { default: 2048, enum: [2048, 4096] }),
  },
  outputs: {
    thumbprint: { type: 'string', description: 'Thumbprint of the new certificate.' },
  },
  title: (input) => `Create a self-signed certificate for ${input.describe('domains')}`,
  compile: (input) =>
    lines(
      `$certificate = ${psExchange('New-ExchangeCertificate', [
        ['Server', input.expr('server')],
        ['SubjectName', input.expr('subjectName')],
        ['DomainName', input.expr('domains')],
        ['FriendlyName', input.has('friendlyName') ? input.expr('friendlyName') : undefined],
        ['PrivateKeyExportable', input.expr('exportable')],
        ['KeySize', input.expr('keySize')],
        ['Services', "'None'"],
        ['Force', true],
      ])}`,
      `if (-not $certificate -or -not (Find-ExchCertCertificate -Server ${input.expr('server')} -Thumbprint ([string]$certificate.Thumbprint))) { throw 'exch-cert: New-ExchangeCertificate reported no error, but the new certificate is not in the store' }`,
      "Write-Host ('exch-cert: created ' + $certificate.Thumbprint + ' for ' + (@($certificate.CertificateDomains) -join ', '))",
      "Set-ExchCertOutput -Name 'thumbprint' -Value ([string]$certificate.Thumbprint)",
    ),
});
