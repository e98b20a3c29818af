import { psCommand, lines } from '../../powershell/script.js';
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
    keySize: field.number('RSA key size in bits.', { default: 2048, enum: [2048, 3072, 4096] }),
  },
  outputs: {
    thumbprint: { type: 'string', description: 'Thumbprint of the new certificate.' },
  },
  title: (input) => `Create a self-signed certificate for ${input.describe('domains')}`,
  compile: (input) =>
    lines(
      `$certificate = ${psCommand('New-ExchangeCertificate', [
        ['Server', input.expr('server')],
        ['SubjectName', input.expr('subjectName')],
        ['DomainName', input.expr('domains')],
        ['FriendlyName', input.has('friendlyName') ? input.expr('friendlyName') : undefined],
        ['PrivateKeyExportable', input.expr('exportable')],
        ['KeySize', input.expr('keySize')],
        ['Services', "'None'"],
        ['Force', true],
      ])}`,
      "Write-Host ('exch-cert: created ' + $certificate.Thumbprint + ' for ' + (@($certificate.CertificateDomains) -join ', '))",
      "Set-ExchCertOutput -Name 'thumbprint' -Value ([string]$certificate.Thumbprint)",
    ),
});
