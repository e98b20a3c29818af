import { lines, hostBlock, IMPORT_WEB_ADMINISTRATION } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * Points one IIS https binding at a certificate, touching no other binding
 * (P7). Exchange's own sites only: the Default Web Site (443, clients) and the
 * Exchange Back End (444, which keeps the Exchange self-signed certificate
 * unless you know why, P6). The binding is read back afterwards.
 */
export const bindIisCertificate = defineAction({
  name: 'bind-iis-certificate',
  summary: 'Bind a certificate to one IIS https binding (Default Web Site or Exchange Back End) and verify it.',
  runsOn: 'host',
  exchangeCmdlets: [],
  changes: true,
  destructive: false,
  fields: {
    server: field.server(),
    site: field.string('IIS site.', { required: true, enum: ['Default Web Site', 'Exchange Back End'], planTime: true }),
    port: field.number('TCP port of the https binding (443 for Default Web Site, 444 for Exchange Back End).', {
      required: true,
      integer: true,
      min: 1,
      max: 65535,
    }),
    ip: field.string("IP address of the binding: '*' (all unassigned) or '127.0.0.1'.", { default: '*', enum: ['*', '127.0.0.1'] }),
    thumbprint: field.thumbprint('Thumbprint of the certificate to bind (it must be in the local machine store).'),
  },
  outputs: {
    previousThumbprint: { type: 'string', description: 'The thumbprint the binding had before (empty when it was created).' },
    changed: { type: 'boolean', description: 'Whether the binding changed (false when it already used this certificate).' },
  },
  title: (input) => `Bind ${input.describe('site')} ${input.describe('ip')}:${input.describe('port')} to certificate ${input.describe('thumbprint')}`,
  compile: (input) =>
    lines(
      `$result = ${hostBlock(
        input.expr('server'),
        [
          ['Site', input.expr('site')],
          ['Port', input.expr('port')],
          ['Ip', input.expr('ip')],
          ['Thumbprint', input.expr('thumbprint')],
        ],
        lines(
          IMPORT_WEB_ADMINISTRATION,
          '# Only the binding without a host name (SNI bindings are separate, P7).',
          "$information = $Ip + ':' + $Port + ':'",
          "$binding = Get-WebBinding -Name $Site -Protocol 'https' | Where-Object { $_.bindingInformation -eq $information }",
          "$previous = ''",
          'if (-not $binding) {',
          "    New-WebBinding -Name $Site -Protocol 'https' -Port $Port -IPAddress $Ip",
          "    $binding = Get-WebBinding -Name $Site -Protocol 'https' | Where-Object { $_.bindingInformation -eq $information }",
          '} else {',
          '    $previous = [string]$binding.certificateHash',
          '}',
          'if ($previous -ne $Thumbprint) {',
          '    # http.sys refuses to add over an existing SSL binding (0x800700B7): remove, add, and put',
          '    # the previous certificate back if the add fails, so the site is never left without one.',
          '    if ($previous) { $binding.RemoveSslCertificate() }',
          '    try {',
          "        $binding.AddSslCertificate($Thumbprint, 'My')",
          '    } catch {',
          "        if ($previous) { $binding.AddSslCertificate($previous, 'My') }",
          '        throw',
          '    }',
          "    $after = [string](Get-WebBinding -Name $Site -Protocol 'https' | Where-Object { $_.bindingInformation -eq $information }).certificateHash",
          "    if ($after -ne $Thumbprint) { throw ('exch-cert: ' + $Site + ' ' + $Ip + ':' + $Port + ' still uses ' + $after + ' after binding ' + $Thumbprint) }",
          '}',
          '@{ Previous = $previous; Changed = ($previous -ne $Thumbprint) }',
        ),
      )}`,
      'if (-not $result.Changed) { Set-ExchCertUnchanged }',
      "Set-ExchCertOutput -Name 'previousThumbprint' -Value ([string]$result.Previous)",
      "Set-ExchCertOutput -Name 'changed' -Value ([bool]$result.Changed)",
    ),
});
