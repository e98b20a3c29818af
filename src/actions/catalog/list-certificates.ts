import { hostBlock, IMPORT_WEB_ADMINISTRATION, lines, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * Every certificate a server uses, and for what: the services Exchange shows it enabled for
 * (SMTP, POP, IMAP, UM...), the internal transport certificate, the current and next Auth
 * certificates, and every IIS https binding (Default Web Site 443, Exchange Back End 444, SNI and
 * IP-specific bindings alike). A thumbprint something names but the store does not hold is listed
 * too (`inStore` false), since that use is broken. Read-only: what `exch-cert status --server`
 * judges.
 */
export const listCertificates = defineAction({
  name: 'list-certificates',
  summary: 'List the certificates a server uses: per service, internal transport, Auth, every IIS https binding (read-only).',
  runsOn: 'exchange',
  exchangeCmdlets: ['Get-ExchangeCertificate', 'Get-TransportService', 'Get-AuthConfig'],
  changes: false,
  destructive: false,
  fields: {
    server: field.server(),
  },
  outputs: {
    certificates: {
      type: 'list',
      description:
        "One JSON object per certificate in use (ConvertFrom-Json reads it): thumbprint, subject, notBefore and notAfter (ISO 8601 UTC, empty when not in the store), services, uses (the services, 'internal transport', 'Auth', 'Auth (next)', 'IIS <site> <binding>'), inStore.",
    },
    thumbprints: { type: 'list', description: 'The thumbprints of those certificates.' },
  },
  title: (input) => `List the certificates ${input.describe('server')} uses`,
  compile: (input) => {
    const server = input.expr('server');
    return lines(
      '$uses = [ordered]@{}',
      "$addUse = { param($Thumbprint, $Use) $key = ([string]$Thumbprint).ToUpperInvariant(); if (-not $key) { return }; if (-not $uses.Contains($key)) { $uses[$key] = New-Object -TypeName 'System.Collections.Generic.List[string]' }; $uses[$key].Add($Use) }",
      `$store = @(${psExchange('Get-ExchangeCertificate', [['Server', server]])})`,
      // IIS shows in Services only while a binding uses the certificate; the bindings below say which.
      "foreach ($certificate in $store) { foreach ($service in @(([string]$certificate.Services) -split ',' | ForEach-Object { $_.Trim() } | Where-Object { $_ -and $_ -ne 'None' -and $_ -ne 'IIS' })) { & $addUse $certificate.Thumbprint $service } }",
      `& $addUse ([string](${psExchange('Get-TransportService', [['Identity', input.serverName('server')]])}).InternalTransportCertificateThumbprint) 'internal transport'`,
      `$auth = ${psExchange('Get-AuthConfig')}`,
      "& $addUse ([string]$auth.CurrentCertificateThumbprint) 'Auth'",
      "& $addUse ([string]$auth.NextCertificateThumbprint) 'Auth (next)'",
      `$bindings = @(${hostBlock(
        server,
        [],
        lines(
          IMPORT_WEB_ADMINISTRATION,
          "foreach ($binding in @(Get-WebBinding -Protocol 'https')) {",
          "    $site = ''",
          "    if ([string]$binding.ItemXPath -match \"@name='([^']*)'\") { $site = $Matches[1] }",
          "    [pscustomobject]@{ Thumbprint = [string]$binding.certificateHash; Use = ('IIS ' + $site + ' ' + [string]$binding.bindingInformation) }",
          '}',
        ),
      )})`,
      'foreach ($binding in $bindings) { & $addUse $binding.Thumbprint $binding.Use }',
      '$records = New-Object -TypeName System.Collections.Generic.List[string]',
      'foreach ($thumbprint in @($uses.Keys)) {',
      '    $certificate = @($store | Where-Object { ([string]$_.Thumbprint).ToUpperInvariant() -eq $thumbprint }) | Select-Object -First 1',
      "    $record = [ordered]@{ thumbprint = $thumbprint; subject = ''; notBefore = ''; notAfter = ''; services = ''; uses = [string[]]$uses[$thumbprint].ToArray(); inStore = [bool]$certificate }",
      '    if ($certificate) {',
      '        $record.subject = [string]$certificate.Subject',
      "        $record.notBefore = ([datetime]$certificate.NotBefore).ToUniversalTime().ToString('o')",
      "        $record.notAfter = ([datetime]$certificate.NotAfter).ToUniversalTime().ToString('o')",
      '        $record.services = [string]$certificate.Services',
      '    }',
      "    $validity = 'not in the store'",
      "    if ($certificate) { $validity = $record.subject + ', valid until ' + $record.notAfter }",
      "    Write-Host ('exch-cert: ' + $thumbprint + ' (' + $validity + '): ' + ($record.uses -join ', '))",
      '    $records.Add((ConvertTo-Json -InputObject $record -Compress))',
      '}',
      "Set-ExchCertOutput -Name 'certificates' -Value $records",
      "Set-ExchCertOutput -Name 'thumbprints' -Value ([string[]]@($uses.Keys))",
    );
  },
});
