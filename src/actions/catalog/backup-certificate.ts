import { lines, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * Export-ExchangeCertificate -BinaryEncoded with a password; the bytes are written locally
 * (-FileName is gone since the 2022 H1 CUs). The file is then opened again with the same password
 * and checked to hold that certificate with its private key: a backup that cannot be restored is
 * not a backup. A file already at the path must pass the same check; a file that fails it is
 * removed, never left for the next run to trust.
 */
export const backupCertificate = defineAction({
  name: 'backup-certificate',
  summary: 'Export a certificate with its private key to a password-protected PFX file, and verify the file.',
  runsOn: 'exchange',
  exchangeCmdlets: ['Get-ExchangeCertificate', 'Export-ExchangeCertificate'],
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
  compile: (input) => {
    const server = input.expr('server');
    const verify = (file: string, what: string): string =>
      lines(
        '$verified = $false',
        `try { $copy = Read-ExchCertPfx -Bytes ([System.IO.File]::ReadAllBytes(${file})) -Password ${input.expr('password')}; $verified = ($copy.Thumbprint -eq $thumbprint -and $copy.HasPrivateKey) } catch { $verified = $false }`,
        'if (-not $verified) {',
        `    [System.IO.File]::Delete(${file})`,
        `    throw ('exch-cert: ' + $path + ' ${what}; it was removed')`,
        '}',
      );
    const indent = (text: string, by: string): string => text.replace(/^/gm, by);
    return lines(
      `$thumbprint = ([string]${input.expr('thumbprint')}).ToUpperInvariant()`,
      `if (-not (Find-ExchCertCertificate -Server ${server} -Thumbprint $thumbprint)) { throw ('exch-cert: certificate ' + $thumbprint + ' is not in the store of ' + ${server} + '; there is nothing to back up') }`,
      `$path = Resolve-ExchCertPath -Path ${input.expr('path')}`,
      'if ([System.IO.File]::Exists($path)) {',
      indent(verify('$path', "was already there but is not a backup of ' + $thumbprint + ' with its private key that this password opens"), '    '),
      "    Write-Host ('exch-cert: ' + $path + ' already holds a verified backup of ' + $thumbprint)",
      '} else {',
      '    $directory = [System.IO.Path]::GetDirectoryName($path)',
      '    if ($directory -and -not [System.IO.Directory]::Exists($directory)) { $null = [System.IO.Directory]::CreateDirectory($directory) }',
      `    $export = ${psExchange('Export-ExchangeCertificate', [
        ['Server', server],
        ['Thumbprint', '$thumbprint'],
        ['BinaryEncoded', true],
        ['Password', input.expr('password')],
      ])}`,
      // Written beside the path and moved into place once verified: a run that backs up the same
      // certificate at the same time (servers of one namespace share it) never reads a half-written file.
      "    $partial = $path + '.' + [guid]::NewGuid().ToString('N') + '.partial'",
      '    try {',
      '        Write-ExchCertPrivateFile -Path $partial -Bytes ([byte[]]$export.FileData)',
      indent(verify('$partial', "does not hold certificate ' + $thumbprint + ' with its private key"), '        '),
      '        try {',
      '            [System.IO.File]::Move($partial, $path)',
      "            Write-Host ('exch-cert: backed up ' + $thumbprint + ' to ' + $path)",
      '        } catch [System.IO.IOException] {',
      '            if (-not [System.IO.File]::Exists($path)) { throw }',
      indent(verify('$path', "was written meanwhile but is not a backup of ' + $thumbprint + ' with its private key that this password opens"), '            '),
      "            Write-Host ('exch-cert: ' + $path + ' was written meanwhile and holds a verified backup of ' + $thumbprint)",
      '        }',
      '    } finally {',
      '        if ([System.IO.File]::Exists($partial)) { [System.IO.File]::Delete($partial) }',
      '    }',
      '}',
      "Set-ExchCertOutput -Name 'path' -Value $path",
    );
  },
});
