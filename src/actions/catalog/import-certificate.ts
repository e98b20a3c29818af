import { lines, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * Import-ExchangeCertificate with -FileData: -FileName is gone since the 2022 H1 CUs. The PFX is
 * opened locally first, which checks the password and yields the thumbprint before the server is
 * touched, and makes the step idempotent: a certificate already in the store is not imported again.
 * Afterwards the store must show it: an import that reported nothing but did not happen fails.
 */
export const importCertificate = defineAction({
  name: 'import-certificate',
  summary: 'Import a PFX file into the Exchange server certificate store (Import-ExchangeCertificate -FileData).',
  runsOn: 'exchange',
  exchangeCmdlets: ['Get-ExchangeCertificate', 'Import-ExchangeCertificate'],
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
  compile: (input) => {
    const server = input.expr('server');
    return lines(
      `$bytes = [System.IO.File]::ReadAllBytes((Resolve-ExchCertPath -Path ${input.expr('path')}))`,
      `$pfx = Read-ExchCertPfx -Bytes $bytes -Password ${input.expr('password')}`,
      '$thumbprint = $pfx.Thumbprint.ToUpperInvariant()',
      "Write-Host ('exch-cert: PFX holds ' + $pfx.Subject + ', thumbprint ' + $thumbprint + ', valid until ' + $pfx.NotAfter.ToString('u'))",
      `if (Find-ExchCertCertificate -Server ${server} -Thumbprint $thumbprint) {`,
      "    Write-Host 'exch-cert: the certificate is already in the store; not importing it again'",
      '    Set-ExchCertUnchanged',
      '} else {',
      `    $null = ${psExchange('Import-ExchangeCertificate', [
        ['Server', server],
        ['FileData', '$bytes'],
        ['Password', input.expr('password')],
        ['PrivateKeyExportable', input.expr('exportable')],
        ['FriendlyName', input.has('friendlyName') ? input.expr('friendlyName') : undefined],
      ])}`,
      `    if (-not (Find-ExchCertCertificate -Server ${server} -Thumbprint $thumbprint)) {`,
      `        throw ('exch-cert: Import-ExchangeCertificate reported no error, but certificate ' + $thumbprint + ' is not in the store of ' + ${server})`,
      '    }',
      '}',
      "Set-ExchCertOutput -Name 'thumbprint' -Value $thumbprint",
    );
  },
});
