import { psCommand, lines } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * Import-ExchangeCertificate with -FileData: -FileName is gone since the
 * 2022 H1 CUs (P1). The PFX is opened locally first, which checks the password
 * and yields the thumbprint before the server is touched, and makes the step
 * idempotent: a certificate already in the store is not imported again.
 */
export const importCertificate = defineAction({
  name: 'import-certificate',
  summary: 'Import a PFX file into the Exchange server certificate store (Import-ExchangeCertificate -FileData).',
  runsOn: 'exchange',
  changes: true,
  destructive: false,
  fields: {
    server: field.server(),
    path: field.string('Path of the PFX file, read on the machine that runs the script.', { required: true }),
    password: field.secret('Password of the PFX file (a secret param).', { required: true }),
    exportable: field.boolean('Mark the private key exportable, so the certificate can be backed up later.', { default: true, planTime: true }),
    friendlyName: field.string('Friendly name shown in Exchange (under 64 characters).', { maxLength: 63 }),
  },
  outputs: {
    thumbprint: { type: 'string', description: 'Thumbprint of the imported certificate.' },
  },
  title: (input) => `Import the certificate from ${input.describe('path')}`,
  compile: (input) =>
    lines(
      `$bytes = [System.IO.File]::ReadAllBytes((Resolve-ExchCertPath -Path ${input.expr('path')}))`,
      `$pfx = Read-ExchCertPfx -Bytes $bytes -Password ${input.expr('password')}`,
      "Write-Host ('exch-cert: PFX holds ' + $pfx.Subject + ', thumbprint ' + $pfx.Thumbprint + ', valid until ' + $pfx.NotAfter.ToString('u'))",
      `$existing = ${psCommand('Get-ExchangeCertificate', [['Server', input.expr('server')], ['Thumbprint', '$pfx.Thumbprint'], ['ErrorAction', "'SilentlyContinue'"]])}`,
      'if ($existing) {',
      "    Write-Host 'exch-cert: the certificate is already in the store; not importing it again'",
      '    Set-ExchCertUnchanged',
      '} else {',
      `    $null = ${psCommand('Import-ExchangeCertificate', [
        ['Server', input.expr('server')],
        ['FileData', '$bytes'],
        ['Password', input.expr('password')],
        ['PrivateKeyExportable', input.expr('exportable')],
        ['FriendlyName', input.has('friendlyName') ? input.expr('friendlyName') : undefined],
      ])}`,
      `    $null = ${psCommand('Get-ExchangeCertificate', [['Server', input.expr('server')], ['Thumbprint', '$pfx.Thumbprint']])}`,
      '}',
      "Set-ExchCertOutput -Name 'thumbprint' -Value $pfx.Thumbprint",
    ),
});
