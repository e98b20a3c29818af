import { lines, NO_CONFIRM, psExchange, hostBlock, IMPORT_WEB_ADMINISTRATION } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * Remove-ExchangeCertificate by thumbprint, and only after checking that the certificate is not
 * still in use: not the internal transport certificate (Exchange itself refuses that one), not the
 * current or next Auth certificate and not bound to any IIS https binding (Exchange would remove
 * those without a word, breaking OAuth or OWA: these guards are exch-cert's own). With `replacedBy`,
 * the replacement must be in the store, and when both are the same certificate nothing is removed.
 * And never without a backup: the file at `backupPath` must open with the backup password and hold
 * this very certificate with its private key, checked right before the removal. Afterwards the
 * store must no longer show it.
 */
export const removeCertificate = defineAction({
  name: 'remove-certificate',
  summary: 'Remove a certificate by thumbprint, refusing while it is still in use (transport, Auth, IIS bindings).',
  runsOn: 'exchange',
  exchangeCmdlets: ['Get-ExchangeCertificate', 'Remove-ExchangeCertificate', 'Get-TransportService', 'Get-AuthConfig'],
  changes: true,
  destructive: true,
  fields: {
    server: field.server(),
    thumbprint: field.thumbprint('Thumbprint of the certificate to remove.'),
    replacedBy: field.thumbprint('Thumbprint of the certificate that replaces it: must be in the store; if it is the same certificate, nothing is removed.', {
      required: false,
    }),
    backupPath: field.string('The verified backup of this certificate (e.g. the path output of its backup-certificate step).', { required: true }),
    backupPassword: field.secret('Password of the backup (a secret param).', { required: true }),
  },
  outputs: {},
  title: (input) => `Remove certificate ${input.describe('thumbprint')}`,
  compile: (input) => {
    const server = input.expr('server');
    return lines(
      `$thumbprint = ([string]${input.expr('thumbprint')}).ToUpperInvariant()`,
      "if (-not $thumbprint) { throw 'exch-cert: no thumbprint to remove' }",
      input.has('replacedBy') &&
        lines(
          `$replacement = ([string]${input.expr('replacedBy')}).ToUpperInvariant()`,
          'if ($replacement -eq $thumbprint) {',
          "    Write-Host ('exch-cert: ' + $thumbprint + ' is also the replacement certificate; nothing to remove')",
          '    Set-ExchCertUnchanged',
          '    return',
          '}',
          `if (-not (Find-ExchCertCertificate -Server ${server} -Thumbprint $replacement)) { throw ('exch-cert: not removing ' + $thumbprint + ': its replacement ' + $replacement + ' is not in the store of ' + ${server}) }`,
        ),
      `if (-not (Find-ExchCertCertificate -Server ${server} -Thumbprint $thumbprint)) {`,
      "    Write-Host ('exch-cert: ' + $thumbprint + ' is not in the store; nothing to remove')",
      '    Set-ExchCertUnchanged',
      '    return',
      '}',
      '# Never without a backup of this very certificate, with its key, that the password opens.',
      `$backupPath = Resolve-ExchCertPath -Path ${input.expr('backupPath')}`,
      '$backedUp = $false',
      `try { $copy = Read-ExchCertPfx -Bytes ([System.IO.File]::ReadAllBytes($backupPath)) -Password ${input.expr('backupPassword')}; $backedUp = ($copy.Thumbprint -eq $thumbprint -and $copy.HasPrivateKey) } catch { $backedUp = $false }`,
      "if (-not $backedUp) { throw ('exch-cert: not removing ' + $thumbprint + ': ' + $backupPath + ' is not a backup of it with its private key that the backup password opens') }",
      '$inUse = @()',
      `if ([string](${psExchange('Get-TransportService', [['Identity', input.serverName('server')]])}).InternalTransportCertificateThumbprint -eq $thumbprint) { $inUse += 'the internal transport certificate (enable another certificate for SMTP first)' }`,
      `$auth = ${psExchange('Get-AuthConfig')}`,
      "if ([string]$auth.CurrentCertificateThumbprint -eq $thumbprint -or [string]$auth.NextCertificateThumbprint -eq $thumbprint) { $inUse += 'the OAuth (Auth) certificate' }",
      `$bindings = @(${hostBlock(server, [['Thumbprint', '$thumbprint']], lines(
        IMPORT_WEB_ADMINISTRATION,
        "@(Get-WebBinding -Protocol 'https' | Where-Object { [string]$_.certificateHash -eq $Thumbprint } | ForEach-Object { [string]$_.ItemXPath + ' ' + [string]$_.bindingInformation })",
      ))})`,
      "if ($bindings.Count -gt 0) { $inUse += ('bound in IIS: ' + ($bindings -join '; ')) }",
      "if ($inUse.Count -gt 0) { throw ('exch-cert: not removing ' + $thumbprint + ', it is still in use as ' + ($inUse -join ' and ') + '. Move that use to another certificate first.') }",
      psExchange('Remove-ExchangeCertificate', [['Server', server], ['Thumbprint', '$thumbprint'], NO_CONFIRM]),
      `if (Find-ExchCertCertificate -Server ${server} -Thumbprint $thumbprint) { throw ('exch-cert: Remove-ExchangeCertificate reported no error, but ' + $thumbprint + ' is still in the store') }`,
      "Write-Host ('exch-cert: removed ' + $thumbprint)",
    );
  },
});
