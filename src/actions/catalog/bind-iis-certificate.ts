import { lines, hostBlock, IMPORT_WEB_ADMINISTRATION } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/** IIS's own application id for its http.sys SSL bindings, used when netsh shows none. */
const IIS_APP_ID = '{4dc3e181-e14b-4a21-b022-59fc669b0914}';

/**
 * Points https bindings at a certificate, touching no other binding: one named by site and port,
 * or a list (the bindings the preflight found serving the old certificate). A binding that already
 * has a certificate gets the new one in place with `netsh http update sslcert`, one atomic change
 * in http.sys, so there is never a moment without a certificate (remove-then-add would leave the
 * site with none if the add failed or the run was stopped in between). Every binding is read back.
 */
export const bindIisCertificate = defineAction({
  name: 'bind-iis-certificate',
  summary: 'Bind a certificate to IIS https bindings (changed in place, never without a certificate), and verify them.',
  runsOn: 'host',
  exchangeCmdlets: [],
  changes: true,
  destructive: false,
  fields: {
    server: field.server(),
    site: field.string('IIS site, with port: one binding.', { enum: ['Default Web Site', 'Exchange Back End'], planTime: true }),
    port: field.number('TCP port of the https binding (443 for Default Web Site, 444 for Exchange Back End).', { integer: true, min: 1, max: 65535 }),
    ip: field.string("IP address of the binding: '*' (all unassigned) or '127.0.0.1'.", { default: '*', enum: ['*', '127.0.0.1'] }),
    bindings: field.list("Instead of site and port: the bindings, as 'Site|ip:port:host' (e.g. the preflight's bindings output).", { minItems: 0 }),
    thumbprint: field.thumbprint('Thumbprint of the certificate to bind (it must be in the local machine store).'),
  },
  outputs: {
    previousThumbprint: { type: 'string', description: 'The thumbprint the (first) binding had before (empty when it was created).' },
    changed: { type: 'boolean', description: 'Whether a binding changed (false when all already used this certificate).' },
  },
  checkFields: (rawWith) => {
    const single = 'site' in rawWith || 'port' in rawWith;
    if (single === 'bindings' in rawWith) return 'give either site and port (one binding), or bindings (a list)';
    if (single && !('site' in rawWith && 'port' in rawWith)) return 'site and port go together';
    if (!single && 'ip' in rawWith) return 'ip goes with site and port; bindings name their own addresses';
    return undefined;
  },
  title: (input) =>
    input.has('bindings')
      ? `Bind ${input.describe('bindings')} to certificate ${input.describe('thumbprint')}`
      : `Bind ${input.describe('site')} ${input.describe('ip')}:${input.describe('port')} to certificate ${input.describe('thumbprint')}`,
  compile: (input) => {
    const targets = input.has('bindings') ? input.expr('bindings') : `@((${input.expr('site')} + '|' + ${input.expr('ip')} + ':' + ${input.expr('port')} + ':'))`;
    return lines(
      `$result = ${hostBlock(
        input.expr('server'),
        [
          ['Targets', targets],
          ['Thumbprint', input.expr('thumbprint')],
        ],
        lines(
          IMPORT_WEB_ADMINISTRATION,
          '$Thumbprint = ([string]$Thumbprint).ToUpperInvariant()',
          "$first = $null",
          '$changed = $false',
          'foreach ($target in @($Targets)) {',
          "    $site, $information = ([string]$target).Split('|', 2)",
          "    $address, $port, $hostName = $information.Split(':', 3)",
          "    $find = { Get-WebBinding -Name $site -Protocol 'https' | Where-Object { $_.bindingInformation -eq $information } }",
          '    $binding = & $find',
          "    $previous = ''",
          '    if (-not $binding) {',
          "        $new = @{ Name = $site; Protocol = 'https'; Port = [int]$port; IPAddress = $address }",
          '        if ($hostName) { $new.HostHeader = $hostName; $new.SslFlags = 1 }',
          '        New-WebBinding @new',
          '        $binding = & $find',
          '    } else {',
          '        $previous = ([string]$binding.certificateHash).ToUpperInvariant()',
          '    }',
          '    if ($null -eq $first) { $first = $previous }',
          '    if ($previous -eq $Thumbprint) { continue }',
          '    if ($previous) {',
          "        # In place, in http.sys: SNI bindings by host name, the others by address ('*' is 0.0.0.0).",
          "        if ($hostName -and ([int]$binding.sslFlags -band 1)) { $key = 'hostnameport=' + $hostName + ':' + $port }",
          "        elseif ($address -eq '*') { $key = 'ipport=0.0.0.0:' + $port }",
          "        else { $key = 'ipport=' + $address + ':' + $port }",
          `        $appId = '${IIS_APP_ID}'`,
          "        foreach ($line in @(netsh http show sslcert $key)) { if ([string]$line -match 'Application ID\\s*:\\s*(\\{[0-9A-Fa-f-]+\\})') { $appId = $Matches[1] } }",
          "        $output = netsh http update sslcert $key ('certhash=' + $Thumbprint) ('appid=' + $appId) 'certstorename=MY'",
          "        if ($LASTEXITCODE -ne 0) { throw ('exch-cert: netsh could not put ' + $Thumbprint + ' on ' + $site + ' ' + $information + ' (it still has ' + $previous + '): ' + ((@($output) | Where-Object { $_ }) -join ' ')) }",
          '    } else {',
          "        $binding.AddSslCertificate($Thumbprint, 'My')",
          '    }',
          "    $after = ([string](& $find).certificateHash).ToUpperInvariant()",
          "    if ($after -ne $Thumbprint) { throw ('exch-cert: ' + $site + ' ' + $information + ' uses ' + $after + ' after binding ' + $Thumbprint) }",
          "    Write-Host ('exch-cert: ' + $site + ' ' + $information + ' now serves ' + $Thumbprint + $(if ($previous) { ' (was ' + $previous + ')' } else { '' }))",
          '    $changed = $true',
          '}',
          "@{ Previous = [string]$first; Changed = $changed }",
        ),
      )}`,
      'if (-not $result.Changed) { Set-ExchCertUnchanged }',
      "Set-ExchCertOutput -Name 'previousThumbprint' -Value ([string]$result.Previous)",
      "Set-ExchCertOutput -Name 'changed' -Value ([bool]$result.Changed)",
    );
  },
});
