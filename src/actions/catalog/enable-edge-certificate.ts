import { lines, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { edgeBlock } from '../edge-block.js';
import { field } from '../fields.js';

/**
 * On an Edge Transport server: Enable-ExchangeCertificate -Services SMTP -Force there, which makes
 * the certificate the Edge's default SMTP certificate (an Edge has no IIS, POP or IMAP). That is the
 * certificate its Edge subscription carries, so EdgeSync fails from here until the subscription is
 * made again. Read back: the Edge's transport must use it. With `keepIfSynchronized` (the rollback),
 * nothing is done while EdgeSync with this Edge is Normal: the subscription holds the certificate the
 * Edge uses, and putting another one back would break it.
 */
export const enableEdgeCertificate = defineAction({
  name: 'enable-edge-certificate',
  summary: "Make a certificate an Edge Transport server's SMTP certificate (Enable-ExchangeCertificate -Services SMTP -Force there).",
  runsOn: 'host',
  exchangeCmdlets: (input) => (input.boolean('keepIfSynchronized') ? ['Test-EdgeSynchronization'] : []),
  changes: true,
  destructive: false,
  fields: {
    edge: field.server(),
    thumbprint: field.thumbprint('Thumbprint of the certificate.'),
    keepIfSynchronized: field.boolean('Change nothing while EdgeSync with this Edge is Normal (asked of the Mailbox server this plan is connected to).', { default: false, planTime: true }),
  },
  outputs: {},
  title: (input) =>
    input.boolean('keepIfSynchronized')
      ? `Make ${input.describe('thumbprint')} the SMTP certificate of ${input.describe('edge')} again, unless EdgeSync works as it is`
      : `Make ${input.describe('thumbprint')} the SMTP certificate of ${input.describe('edge')}`,
  compile: (input) => {
    const edge = input.expr('edge');
    return lines(
      `$thumbprint = ([string]${input.expr('thumbprint')}).ToUpperInvariant()`,
      input.boolean('keepIfSynchronized') &&
        lines(
          '$sync = @()',
          `try { $sync = @(${psExchange('Test-EdgeSynchronization', [['TargetServer', edge]])}) } catch { Write-Host ('exch-cert: Test-EdgeSynchronization: ' + $_.Exception.Message) }`,
          "if ($sync.Count -gt 0 -and @($sync | Where-Object { [string]$_.SyncStatus -ne 'Normal' }).Count -eq 0) {",
          `    Write-Host ('exch-cert: EdgeSync with ' + ${edge} + ' is Normal; its SMTP certificate stays as it is')`,
          '    Set-ExchCertUnchanged',
          '    return',
          '}',
        ),
      `$changed = ${edgeBlock(
        edge,
        [['Thumbprint', '$thumbprint']],
        lines(
          `$current = { ([string](${psExchange('Get-TransportService')} | Select-Object -First 1).InternalTransportCertificateThumbprint).ToUpperInvariant() }`,
          'if ((& $current) -eq $Thumbprint) { return $false }',
          `if (-not @(${psExchange('Get-ExchangeCertificate')} | Where-Object { ([string]$_.Thumbprint).ToUpperInvariant() -eq $Thumbprint })) { throw ('exch-cert: certificate ' + $Thumbprint + ' is not in the store of the Edge') }`,
          psExchange('Enable-ExchangeCertificate', [['Thumbprint', '$Thumbprint'], ['Services', "'SMTP'"], ['Force', true]]),
          "if ((& $current) -ne $Thumbprint) { throw ('exch-cert: Enable-ExchangeCertificate reported no error, but the Edge still uses ' + (& $current) + ' for SMTP, not ' + $Thumbprint) }",
          '$true',
        ),
      )}`,
      `if ($changed) { Write-Host ('exch-cert: ' + ${edge} + ' uses ' + $thumbprint + ' for SMTP now') } else { Write-Host ('exch-cert: ' + ${edge} + ' already uses ' + $thumbprint + ' for SMTP'); Set-ExchCertUnchanged }`,
    );
  },
});
