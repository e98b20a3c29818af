import { lines, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { edgeBlock } from '../edge-block.js';
import { field } from '../fields.js';

/**
 * On an Edge Transport server: Export-ExchangeCertificate -BinaryEncoded with a password there, the
 * bytes written on the machine that runs exch-cert and opened again to check that they hold that
 * certificate with its private key, as backup-certificate does for a Mailbox server. A file already
 * at the path must pass the same check; one that fails it is removed.
 */
export const backupEdgeCertificate = defineAction({
  name: 'backup-edge-certificate',
  summary: 'Back up a certificate of an Edge Transport server, with its private key, to a verified PFX file here.',
  runsOn: 'host',
  exchangeCmdlets: [],
  changes: false,
  destructive: false,
  fields: {
    edge: field.server(),
    thumbprint: field.thumbprint('Thumbprint of the certificate to back up.'),
    path: field.string('Where to write the PFX file, on the machine that runs the script. Never overwritten.', { required: true }),
    password: field.secret('Password that protects the PFX file (a secret param).', { required: true }),
  },
  outputs: {
    path: { type: 'string', description: 'Full path of the verified backup file.' },
  },
  title: (input) => `Back up certificate ${input.describe('thumbprint')} of ${input.describe('edge')} to ${input.describe('path')}`,
  compile: (input) => {
    const verify = (what: string): string =>
      lines(
        '$verified = $false',
        `try { $copy = Read-ExchCertPfx -Bytes ([System.IO.File]::ReadAllBytes($path)) -Password ${input.expr('password')}; $verified = ($copy.Thumbprint -eq $thumbprint -and $copy.HasPrivateKey) } catch { $verified = $false }`,
        'if (-not $verified) {',
        '    [System.IO.File]::Delete($path)',
        `    throw ('exch-cert: ' + $path + ' ${what}; it was removed')`,
        '}',
      );
    return lines(
      `$thumbprint = ([string]${input.expr('thumbprint')}).ToUpperInvariant()`,
      `$path = Resolve-ExchCertPath -Path ${input.expr('path')}`,
      'if ([System.IO.File]::Exists($path)) {',
      verify("was already there but is not a backup of ' + $thumbprint + ' with its private key that this password opens").replace(/^/gm, '    '),
      "    Write-Host ('exch-cert: ' + $path + ' already holds a verified backup of ' + $thumbprint)",
      '} else {',
      `    $data = ${edgeBlock(
        input.expr('edge'),
        [
          ['Thumbprint', '$thumbprint'],
          ['Password', input.expr('password')],
        ],
        lines(
          `if (-not @(${psExchange('Get-ExchangeCertificate')} | Where-Object { ([string]$_.Thumbprint).ToUpperInvariant() -eq $Thumbprint })) { throw ('exch-cert: certificate ' + $Thumbprint + ' is not in the store of the Edge; there is nothing to back up') }`,
          `$export = ${psExchange('Export-ExchangeCertificate', [
            ['Thumbprint', '$Thumbprint'],
            ['BinaryEncoded', true],
            ['Password', '$Password'],
          ])}`,
          // Base64 travels back whole; a byte array would be unrolled into single bytes on the way.
          '[Convert]::ToBase64String([byte[]]$export.FileData)',
        ),
      ).replace(/\n/g, '\n    ')}`,
      '    $directory = [System.IO.Path]::GetDirectoryName($path)',
      '    if ($directory -and -not [System.IO.Directory]::Exists($directory)) { $null = [System.IO.Directory]::CreateDirectory($directory) }',
      '    Write-ExchCertPrivateFile -Path $path -Bytes ([Convert]::FromBase64String([string]$data))',
      verify("does not hold certificate ' + $thumbprint + ' with its private key").replace(/^/gm, '    '),
      "    Write-Host ('exch-cert: backed up ' + $thumbprint + ' to ' + $path)",
      '}',
      "Set-ExchCertOutput -Name 'path' -Value $path",
    );
  },
});
