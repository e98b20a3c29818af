import { psBoolean, psStringArray } from '../../powershell/quote.js';
import { hostBlock, IMPORT_WEB_ADMINISTRATION, lines } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/** What is known of the certificate found; all empty when allowMissing found none. */
const CERTIFICATE_OUTPUTS = {
  thumbprint: { type: 'string', description: 'Thumbprint of the certificate found.' },
  subject: { type: 'string', description: 'Its subject.' },
  notAfter: { type: 'string', description: 'Its expiry, ISO 8601 UTC.' },
  services: { type: 'string', description: 'The Exchange services it is enabled for.' },
} as const;

/**
 * Finds one certificate exactly: by thumbprint, or as the one bound to an IIS
 * site and port. Never by subject or name substring, which is how other tools
 * removed the wrong certificate (P9). Not finding it fails the step unless
 * `allowMissing` is set; then `found` says what happened.
 */
export const findCertificate = defineAction({
  name: 'find-certificate',
  summary: 'Find a certificate by thumbprint, or the one bound to an IIS site and port (never by subject).',
  runsOn: 'exchange',
  exchangeCmdlets: ['Get-ExchangeCertificate'],
  changes: false,
  destructive: false,
  fields: {
    server: field.server(),
    thumbprint: field.thumbprint('Thumbprint to look up.', { required: false }),
    site: field.string('IIS site whose https binding names the certificate.', { enum: ['Default Web Site', 'Exchange Back End'], planTime: true }),
    port: field.number('Port of that binding (443 for Default Web Site, 444 for Exchange Back End).', { integer: true, min: 1, max: 65535 }),
    ip: field.string("IP address of that binding: '*' or '127.0.0.1'.", { default: '*', enum: ['*', '127.0.0.1'] }),
    allowMissing: field.boolean('Succeed with found = false (and empty outputs) when there is no such certificate.', { default: false, planTime: true }),
  },
  outputs: {
    found: { type: 'boolean', description: 'Whether the certificate was found (always true unless allowMissing).' },
    ...CERTIFICATE_OUTPUTS,
  },
  checkFields: (rawWith) => {
    const byThumbprint = 'thumbprint' in rawWith;
    const byBinding = 'site' in rawWith || 'port' in rawWith;
    if (byThumbprint === byBinding) return 'give either thumbprint, or site and port, to say which certificate to find';
    if (byBinding && !('site' in rawWith && 'port' in rawWith)) return 'site and port go together';
    return undefined;
  },
  title: (input) =>
    input.has('thumbprint')
      ? `Find certificate ${input.describe('thumbprint')}`
      : `Find the certificate bound to ${input.describe('site')} ${input.describe('ip')}:${input.describe('port')}`,
  compile: (input) => {
    const allowMissing = input.boolean('allowMissing');
    const lookup = input.has('thumbprint')
      ? `$thumbprint = ${input.expr('thumbprint')}`
      : `$thumbprint = [string](${hostBlock(
          input.expr('server'),
          [
            ['Site', input.expr('site')],
            ['Port', input.expr('port')],
            ['Ip', input.expr('ip')],
            ['AllowMissing', psBoolean(allowMissing)],
          ],
          lines(
            IMPORT_WEB_ADMINISTRATION,
            "$information = $Ip + ':' + $Port + ':'",
            "$binding = Get-WebBinding -Name $Site -Protocol 'https' | Where-Object { $_.bindingInformation -eq $information }",
            'if (-not $binding -or -not $binding.certificateHash) {',
            "    if ($AllowMissing) { return '' }",
            "    throw ('exch-cert: no certificate is bound to ' + $Site + ' ' + $information)",
            '}',
            '[string]$binding.certificateHash',
          ),
        )})`;
    return lines(
      lookup,
      // A binding without a certificate yields ''; only a thumbprint that is in the store is "found".
      `$certificate = $null`,
      `if ($thumbprint) { $certificate = Find-ExchCertCertificate -Server ${input.expr('server')} -Thumbprint $thumbprint }`,
      'if (-not $certificate) {',
      allowMissing
        ? lines(
            "    Write-Host 'exch-cert: no such certificate'",
            "    Set-ExchCertOutput -Name 'found' -Value $false",
            `    foreach ($name in ${psStringArray(Object.keys(CERTIFICATE_OUTPUTS))}) { Set-ExchCertOutput -Name $name -Value '' }`,
            '    return',
          )
        : `    throw ('exch-cert: certificate ' + $thumbprint + ' is not in the store of ' + ${input.expr('server')})`,
      '}',
      "Write-Host ('exch-cert: found ' + $certificate.Thumbprint + ' ' + $certificate.Subject + ', services ' + [string]$certificate.Services + ', valid until ' + ([datetime]$certificate.NotAfter).ToUniversalTime().ToString('u'))",
      "Set-ExchCertOutput -Name 'found' -Value $true",
      "Set-ExchCertOutput -Name 'thumbprint' -Value ([string]$certificate.Thumbprint)",
      "Set-ExchCertOutput -Name 'subject' -Value ([string]$certificate.Subject)",
      "Set-ExchCertOutput -Name 'notAfter' -Value ([datetime]$certificate.NotAfter).ToUniversalTime().ToString('o')",
      "Set-ExchCertOutput -Name 'services' -Value ([string]$certificate.Services)",
    );
  },
});
