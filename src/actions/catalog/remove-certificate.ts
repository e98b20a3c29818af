import { lines, NO_CONFIRM, psCommand, hostBlock, IMPORT_WEB_ADMINISTRATION } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * Remove-ExchangeCertificate by thumbprint, and only after checking that the
 * certificate is not still in use (P9, P6): not the internal transport
 * certificate, not the current or next Auth certificate, not bound to any IIS
 * https binding. With `replacedBy`, the replacement must be in the store, and
 * when both are the same certificate nothing is removed.
 */
export const removeCertificate = defineAction({
  name: 'remove-certificate',
  summary: 'Remove a certificate by thumbprint, refusing while it is still in use (transport, Auth, IIS bindings).',
  runsOn: 'exchange',
  changes: true,
  destructive: true,
  fields: {
    server: field.server(),
    thumbprint: field.thumbprint('Thumbprint of the certificate to remove.'),
    replacedBy: field.thumbprint('Thumbprint of the certificate that replaces it: must be in the store; if it is the same certificate, nothing is removed.', {
      required: false,
    }),
  },
  outputs: {},
  title: (input) => `Remove certificate ${input.describe('thumbprint')}`,
  compile: (input) => {
    const server = input.expr('server');
    return lines(
      `$thumbprint = ${input.expr('thumbprint')}`,
      input.has('replacedBy') &&
        lines(
          `$replacement = ${input.expr('replacedBy')}`,
          'if ($replacement -eq $thumbprint) {',
          "    Write-Host ('exch-cert: ' + $thumbprint + ' is also the replacement certificate; nothing to remove')",
          '    Set-ExchCertUnchanged',
          '    return',
          '}',
          `$null = ${psCommand('Get-ExchangeCertificate', [['Server', server], ['Thumbprint', '$replacement']])}`,
        ),
      `$certificate = ${psCommand('Get-ExchangeCertificate', [['Server', server], ['Thumbprint', '$thumbprint'], ['ErrorAction', "'SilentlyContinue'"]])}`,
      'if (-not $certificate) {',
      "    Write-Host ('exch-cert: ' + $thumbprint + ' is not in the store; nothing to remove')",
      '    Set-ExchCertUnchanged',
      '    return',
      '}',
      '$inUse = @()',
      `if ([string](${psCommand('Get-TransportService', [['Identity', server]])}).InternalTransportCertificateThumbprint -eq $thumbprint) { $inUse += 'the internal transport certificate (Set-TransportService -InternalTransportCertificateThumbprint)' }`,
      `$auth = ${psCommand('Get-AuthConfig')}`,
      "if ([string]$auth.CurrentCertificateThumbprint -eq $thumbprint -or [string]$auth.NextCertificateThumbprint -eq $thumbprint) { $inUse += 'the OAuth (Auth) certificate' }",
      `$bindings = @(${hostBlock(server, [['Thumbprint', '$thumbprint']], lines(
        IMPORT_WEB_ADMINISTRATION,
        "@(Get-WebBinding -Protocol 'https' | Where-Object { [string]$_.certificateHash -eq $Thumbprint } | ForEach-Object { [string]$_.ItemXPath + ' ' + [string]$_.bindingInformation })",
      ))})`,
      "if ($bindings.Count -gt 0) { $inUse += ('bound in IIS: ' + ($bindings -join '; ')) }",
      "if ($inUse.Count -gt 0) { throw ('exch-cert: not removing ' + $thumbprint + ', it is still in use as ' + ($inUse -join ' and ') + '. Move that use to another certificate first.') }",
      psCommand('Remove-ExchangeCertificate', [['Server', server], ['Thumbprint', '$thumbprint'], NO_CONFIRM]),
      "Write-Host ('exch-cert: removed ' + $thumbprint)",
    );
  },
});
