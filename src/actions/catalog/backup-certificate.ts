import { lines, psCommand } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * Export-ExchangeCertificate -BinaryEncoded with a password; the bytes are
 * written locally (-FileName is gone, P1). The file is then opened again with
 * the same password and checked to hold that certificate with its private key:
 * a backup that cannot be restored is not a backup. An existing file is never
 * overwritten.
 */
export const backupCertificate = defineAction({
  name: 'backup-certificate',
  summary: 'Export a certificate with its private key to a password-protected PFX file, and verify the file.',
  runsOn: 'exchange',
  changes: false,
  destructive: false,
  fields: {
    server: field.server(),
    thumbprint: field.thumbprint('Thumbprint of the certificate to back up.'),
    path: field.string('Where to write the PFX file, on the machine that runs the script. Never overwritten.', { required: true }),
    password: field.secret('Password that protects the PFX file (a secret param).', { required: true }),
  },
  outputs: {
    path: { type: 'string', description: 'Full path of the verified backup file.' },
  },
  title: (input) => `Back up certificate ${input.describe('thumbprint')} to ${input.describe('path')}`,
  compile: (input) =>
    lines(
      `$thumbprint = ${input.expr('thumbprint')}`,
      `$path = Resolve-ExchCertPath -Path ${input.expr('path')}`,
      'if (Test-Path -LiteralPath $path) {',
      `    $existing = Read-ExchCertPfx -Bytes ([System.IO.File]::ReadAllBytes($path)) -Password ${input.expr('password')}`,
      "    if ($existing.Thumbprint -ne $thumbprint) { throw ('exch-cert: ' + $path + ' already exists and holds another certificate; choose another backup path') }",
      "    Write-Host ('exch-cert: ' + $path + ' already holds a backup of ' + $thumbprint)",
      '} else {',
      '    $directory = [System.IO.Path]::GetDirectoryName($path)',
      '    if ($directory -and -not (Test-Path -LiteralPath $directory)) { $null = New-Item -ItemType Directory -Path $directory -Force }',
      `    $export = ${psCommand('Export-ExchangeCertificate', [
        ['Server', input.expr('server')],
        ['Thumbprint', '$thumbprint'],
        ['BinaryEncoded', true],
        ['Password', input.expr('password')],
      ])}`,
      '    [System.IO.File]::WriteAllBytes($path, [byte[]]$export.FileData)',
      `    $written = Read-ExchCertPfx -Bytes ([System.IO.File]::ReadAllBytes($path)) -Password ${input.expr('password')}`,
      "    if ($written.Thumbprint -ne $thumbprint -or -not $written.HasPrivateKey) { throw ('exch-cert: the backup in ' + $path + ' does not hold certificate ' + $thumbprint + ' with its private key') }",
      "    Write-Host ('exch-cert: backed up ' + $thumbprint + ' to ' + $path)",
      '}',
      "Set-ExchCertOutput -Name 'path' -Value $path",
    ),
});
