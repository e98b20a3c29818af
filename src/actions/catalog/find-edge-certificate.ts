import { lines, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { edgeBlock } from '../edge-block.js';
import { field } from '../fields.js';

/**
 * On an Edge Transport server: the certificate its transport uses now (the default SMTP
 * certificate, InternalTransportCertificateThumbprint), which its Edge subscription carries and
 * which a renewal replaces. Fails when the server is not an Edge Transport server.
 */
export const findEdgeCertificate = defineAction({
  name: 'find-edge-certificate',
  summary: 'Find the certificate an Edge Transport server uses for SMTP now (its default SMTP certificate).',
  runsOn: 'host',
  exchangeCmdlets: [],
  changes: false,
  destructive: false,
  fields: {
    edge: field.server(),
  },
  outputs: {
    found: { type: 'boolean', description: 'Whether the Edge has a default SMTP certificate in its store.' },
    thumbprint: { type: 'string', description: 'Its thumbprint (empty when none).' },
    subject: { type: 'string', description: 'Its subject.' },
    notAfter: { type: 'string', description: 'Its expiry, ISO 8601 UTC.' },
  },
  title: (input) => `Find the certificate the Edge Transport server ${input.describe('edge')} uses for SMTP`,
  compile: (input) =>
    lines(
      `$found = ${edgeBlock(
        input.expr('edge'),
        [['Edge', input.expr('edge')]],
        lines(
          `$role = [string](${psExchange('Get-ExchangeServer')} | Select-Object -First 1).ServerRole`,
          "if ($role -notmatch 'Edge') { throw ('exch-cert: ' + $Edge + ' is a ' + $role + ' server, not an Edge Transport server') }",
          `$thumbprint = ([string](${psExchange('Get-TransportService')} | Select-Object -First 1).InternalTransportCertificateThumbprint).ToUpperInvariant()`,
          `$certificate = @(${psExchange('Get-ExchangeCertificate')} | Where-Object { ([string]$_.Thumbprint).ToUpperInvariant() -eq $thumbprint }) | Select-Object -First 1`,
          "if (-not $thumbprint -or -not $certificate) { return @{ Found = $false; Thumbprint = ''; Subject = ''; NotAfter = '' } }",
          "@{ Found = $true; Thumbprint = $thumbprint; Subject = [string]$certificate.Subject; NotAfter = ([datetime]$certificate.NotAfter).ToUniversalTime().ToString('o') }",
        ),
      )}`,
      "if ($found.Found) { Write-Host ('exch-cert: ' + " + input.expr('edge') + " + ' uses ' + $found.Thumbprint + ' ' + $found.Subject + ' for SMTP, valid until ' + $found.NotAfter) } else { Write-Host 'exch-cert: the Edge has no default SMTP certificate in its store' }",
      "foreach ($name in @('Found', 'Thumbprint', 'Subject', 'NotAfter')) { Set-ExchCertOutput -Name ($name.Substring(0, 1).ToLowerInvariant() + $name.Substring(1)) -Value $found[$name] }",
    ),
});
