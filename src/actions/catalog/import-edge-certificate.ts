import { lines, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { edgeBlock } from '../edge-block.js';
import { field, FQDN_PATTERN } from '../fields.js';

/**
 * On an Edge Transport server: Import-ExchangeCertificate -FileData there. The PFX is opened here
 * first (password, thumbprint, and that it covers the name the Edge answers SMTP for), and a
 * certificate already in the Edge's store is not imported again. Afterwards the store must show it.
 */
export const importEdgeCertificate = defineAction({
  name: 'import-edge-certificate',
  summary: 'Import a PFX file into the certificate store of an Edge Transport server (Import-ExchangeCertificate -FileData there).',
  runsOn: 'host',
  exchangeCmdlets: [],
  changes: true,
  destructive: false,
  fields: {
    edge: field.server(),
    path: field.string('Path of the PFX file, read on the machine that runs the script.', { required: true }),
    password: field.secret('Password of the PFX file (a secret param).', { required: true }),
    fqdn: field.string('A name the certificate must cover: the one the Edge answers SMTP for, such as mail.contoso.com.', {
      required: true,
      pattern: FQDN_PATTERN,
      patternMessage: 'expected an FQDN such as mail.contoso.com',
    }),
    friendlyName: field.string('Friendly name shown in Exchange (under 64 characters).', { maxLength: 63 }),
  },
  outputs: {
    thumbprint: { type: 'string', description: 'Thumbprint of the imported certificate.' },
  },
  title: (input) => `Import the certificate from ${input.describe('path')} on ${input.describe('edge')}`,
  compile: (input) =>
    lines(
      `$bytes = [System.IO.File]::ReadAllBytes((Resolve-ExchCertPath -Path ${input.expr('path')}))`,
      `$pfx = Read-ExchCertPfx -Bytes $bytes -Password ${input.expr('password')}`,
      '$thumbprint = $pfx.Thumbprint.ToUpperInvariant()',
      `$fqdn = ${input.expr('fqdn')}`,
      // The DNS names of the subject alternative names ('DNS Name=' on Windows, 'DNS:' elsewhere), else the subject's.
      "$san = @($pfx.Extensions | Where-Object { $_.Oid.Value -eq '2.5.29.17' }) | Select-Object -First 1",
      "$names = @(if ($san) { [regex]::Matches($san.Format($false), '(?:DNS Name=|DNS:)([^,\\s]+)') | ForEach-Object { $_.Groups[1].Value } })",
      "if ($names.Count -eq 0) { $names = @($pfx.GetNameInfo([System.Security.Cryptography.X509Certificates.X509NameType]::DnsName, $false)) }",
      "$covered = @($names | Where-Object { $_ -eq $fqdn -or ($_.StartsWith('*.') -and $fqdn.Substring($fqdn.IndexOf('.') + 1) -eq $_.Substring(2)) }).Count -gt 0",
      "if (-not $covered) { throw ('exch-cert: the PFX holds ' + $pfx.Subject + ' for ' + ($names -join ', ') + ', which does not cover ' + $fqdn) }",
      "Write-Host ('exch-cert: PFX holds ' + $pfx.Subject + ', thumbprint ' + $thumbprint + ', valid until ' + $pfx.NotAfter.ToString('u'))",
      `$imported = ${edgeBlock(
        input.expr('edge'),
        [
          ['Bytes', '$bytes'],
          ['Password', input.expr('password')],
          ['Thumbprint', '$thumbprint'],
          ...(input.has('friendlyName') ? ([['FriendlyName', input.expr('friendlyName')]] as const) : []),
        ],
        lines(
          `$there = { @(${psExchange('Get-ExchangeCertificate')} | Where-Object { ([string]$_.Thumbprint).ToUpperInvariant() -eq $Thumbprint }).Count -gt 0 }`,
          'if (& $there) { return $false }',
          `$null = ${psExchange('Import-ExchangeCertificate', [
            ['FileData', '([byte[]]$Bytes)'],
            ['Password', '$Password'],
            ['PrivateKeyExportable', '$true'],
            ['FriendlyName', input.has('friendlyName') ? '$FriendlyName' : undefined],
          ])}`,
          "if (-not (& $there)) { throw ('exch-cert: Import-ExchangeCertificate reported no error, but certificate ' + $Thumbprint + ' is not in the store of the Edge') }",
          '$true',
        ),
      )}`,
      "if (-not $imported) { Write-Host 'exch-cert: the certificate is already in the store of the Edge; not importing it again'; Set-ExchCertUnchanged }",
      "Set-ExchCertOutput -Name 'thumbprint' -Value $thumbprint",
    ),
});
