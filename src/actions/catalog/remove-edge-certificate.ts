import { lines, NO_CONFIRM, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { edgeBlock } from '../edge-block.js';
import { field } from '../fields.js';

/**
 * On an Edge Transport server: Remove-ExchangeCertificate of the certificate a renewal replaced,
 * only once its verified backup file is here, its replacement is in the Edge's store and it is no
 * longer the Edge's SMTP certificate (run it after EdgeSync is Normal again). Read back: gone.
 */
export const removeEdgeCertificate = defineAction({
  name: 'remove-edge-certificate',
  summary: 'Remove the replaced certificate from an Edge Transport server, once backed up and no longer its SMTP certificate.',
  runsOn: 'host',
  exchangeCmdlets: [],
  changes: true,
  destructive: true,
  fields: {
    edge: field.server(),
    thumbprint: field.thumbprint('Thumbprint of the certificate to remove.'),
    replacedBy: field.thumbprint('Thumbprint of the certificate that replaces it; must be in the Edge\u2019s store.'),
    backup: field.string('The verified backup file of the certificate (the backup step\u2019s path), on this machine.', { required: true }),
  },
  outputs: {},
  title: (input) => `Remove certificate ${input.describe('thumbprint')} from ${input.describe('edge')}`,
  compile: (input) =>
    lines(
      `$thumbprint = ([string]${input.expr('thumbprint')}).ToUpperInvariant()`,
      `$replacement = ([string]${input.expr('replacedBy')}).ToUpperInvariant()`,
      "if ($replacement -eq $thumbprint) { Write-Host ('exch-cert: ' + $thumbprint + ' is also the replacement; nothing to remove'); Set-ExchCertUnchanged; return }",
      `$backup = Resolve-ExchCertPath -Path ${input.expr('backup')}`,
      "if (-not [System.IO.File]::Exists($backup)) { throw ('exch-cert: not removing ' + $thumbprint + ': its backup ' + $backup + ' is not there') }",
      `$removed = ${edgeBlock(
        input.expr('edge'),
        [
          ['Thumbprint', '$thumbprint'],
          ['Replacement', '$replacement'],
        ],
        lines(
          `$store = @(${psExchange('Get-ExchangeCertificate')} | ForEach-Object { ([string]$_.Thumbprint).ToUpperInvariant() })`,
          'if ($store -notcontains $Thumbprint) { return $false }',
          "if ($store -notcontains $Replacement) { throw ('exch-cert: not removing ' + $Thumbprint + ': its replacement ' + $Replacement + ' is not in the store of the Edge') }",
          `if (([string](${psExchange('Get-TransportService')} | Select-Object -First 1).InternalTransportCertificateThumbprint).ToUpperInvariant() -eq $Thumbprint) { throw ('exch-cert: not removing ' + $Thumbprint + ': the Edge still uses it for SMTP') }`,
          psExchange('Remove-ExchangeCertificate', [['Thumbprint', '$Thumbprint'], NO_CONFIRM]),
          `if (@(${psExchange('Get-ExchangeCertificate')} | Where-Object { ([string]$_.Thumbprint).ToUpperInvariant() -eq $Thumbprint })) { throw ('exch-cert: Remove-ExchangeCertificate reported no error, but ' + $Thumbprint + ' is still in the store of the Edge') }`,
          '$true',
        ),
      )}`,
      "if ($removed) { Write-Host ('exch-cert: removed ' + $thumbprint) } else { Write-Host ('exch-cert: ' + $thumbprint + ' is not in the store of the Edge; nothing to remove'); Set-ExchCertUnchanged }",
    ),
});
