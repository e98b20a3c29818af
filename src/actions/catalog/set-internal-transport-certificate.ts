import { lines, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * Makes a certificate the internal transport certificate (the one Exchange servers use between
 * themselves for SMTP). The property is read-only: enabling a certificate for SMTP with -Force is
 * how it changes, and New-ExchangeCertificate does it for a new self-signed certificate. Microsoft
 * advises an Exchange self-signed certificate there, never a public certificate that is about to
 * be removed. Read back afterwards.
 */
export const setInternalTransportCertificate = defineAction({
  name: 'set-internal-transport-certificate',
  summary: 'Make a certificate (or a new Exchange self-signed one) the internal transport certificate, and verify it.',
  runsOn: 'exchange',
  exchangeCmdlets: ['Get-TransportService', 'Enable-ExchangeCertificate', 'New-ExchangeCertificate'],
  changes: true,
  destructive: false,
  fields: {
    server: field.server(),
    thumbprint: field.string('The certificate to make the internal transport certificate; empty with create: true.', {}),
    create: field.boolean('Create a new Exchange self-signed certificate (CN=<server>, for SMTP) and make it the internal transport certificate.', { default: false }),
  },
  outputs: {
    thumbprint: { type: 'string', description: 'The internal transport certificate afterwards.' },
    changed: { type: 'boolean', description: 'Whether the internal transport certificate changed.' },
  },
  title: (input) => (input.has('thumbprint') ? `Make ${input.describe('thumbprint')} the internal transport certificate` : 'Make a new Exchange self-signed certificate the internal transport certificate'),
  compile: (input) => {
    const server = input.expr('server');
    const current = `([string](${psExchange('Get-TransportService', [['Identity', input.serverName('server')]])}).InternalTransportCertificateThumbprint).ToUpperInvariant()`;
    return lines(
      `$wanted = ([string]${input.has('thumbprint') ? input.expr('thumbprint') : "''"}).ToUpperInvariant()`,
      `$create = [bool]${input.expr('create')}`,
      "if (-not $create -and -not $wanted) { throw 'exch-cert: no certificate given for the internal transport' }",
      `if (-not $create -and ${current} -eq $wanted) {`,
      "    Write-Host ('exch-cert: ' + $wanted + ' already is the internal transport certificate')",
      '    Set-ExchCertUnchanged',
      '} else {',
      '    if ($create) {',
      `        $made = ${psExchange('New-ExchangeCertificate', [['Server', server], ['Services', "'SMTP'"], ['Force', true]])}`,
      '        $wanted = ([string]$made.Thumbprint).ToUpperInvariant()',
      "        Write-Host ('exch-cert: created the Exchange self-signed certificate ' + $wanted + ' for SMTP')",
      '    } else {',
      `        ${psExchange('Enable-ExchangeCertificate', [['Server', server], ['Thumbprint', '$wanted'], ['Services', "@('SMTP')"], ['Force', true]])}`,
      '    }',
      `    if (${current} -ne $wanted) { throw ('exch-cert: ' + $wanted + ' did not become the internal transport certificate') }`,
      "    Write-Host ('exch-cert: the internal transport certificate is now ' + $wanted)",
      '}',
      "Set-ExchCertOutput -Name 'thumbprint' -Value $wanted",
      "Set-ExchCertOutput -Name 'changed' -Value ($global:ExchCert.Current.Status -eq 'changed')",
    );
  },
});
