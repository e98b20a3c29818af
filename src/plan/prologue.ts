import { psString } from '../powershell/quote.js';
import { lines } from '../powershell/script.js';

/**
 * How the script reaches Exchange:
 * - remote: the supported Exchange remote PowerShell session (http://SERVER/PowerShell/, Kerberos);
 *   host steps go through Invoke-Command unless this machine is the server.
 * - local: on the server itself, connecting as the Exchange Management Shell does.
 * - module: a PowerShell module that provides the cmdlets (the simulator); host steps run locally.
 */
export type Connection =
  | { readonly kind: 'remote'; readonly server: string; readonly credentialEnv?: { readonly user: string; readonly password: string } }
  | { readonly kind: 'local'; readonly server: string }
  | { readonly kind: 'module'; readonly server: string; readonly modulePath: string };

/** A secret the prologue reads from the environment into a SecureString. */
export interface SecretSource {
  readonly param: string;
  readonly env: string;
}

/** One line describing the connection, for headers and messages. */
export function describeConnection(connection: Connection): string {
  switch (connection.kind) {
    case 'remote':
      return `remote Exchange PowerShell on ${connection.server} (${connection.credentialEnv ? 'credentials from the environment' : 'Kerberos, current user'})`;
    case 'local':
      return `Exchange Management Shell on this server (${connection.server})`;
    case 'module':
      return `cmdlets from the module ${connection.modulePath} (server ${connection.server})`;
  }
}

/**
 * Helper functions every step uses. They are defined `global:` because exch-cert
 * runs each block in its own scope; in a script file that changes nothing.
 */
const HELPERS = String.raw`function global:Invoke-ExchCertStep {
    param(
        [Parameter(Mandatory = $true)][string]$Id,
        [Parameter(Mandatory = $true)][scriptblock]$Body,
        [switch]$ReadOnly,
        [scriptblock]$When
    )
    $ErrorActionPreference = 'Stop'
    $step = @{ Id = $Id; Status = 'changed'; Outputs = @{} }
    if ($ReadOnly) { $step.Status = 'ok' }
    $global:ExchCert.Current = $step
    if ($When -and -not (& $When)) {
        $step.Status = 'skipped'
    } else {
        $null = & $Body
    }
    $global:ExchCert.Outputs[$Id] = $step.Outputs
    Write-Host ('exch-cert: step ' + $Id + ': ' + $step.Status)
}

function global:Get-ExchCertOutput {
    param([string]$Step, [string]$Name)
    $outputs = $global:ExchCert.Outputs[$Step]
    if ($null -eq $outputs -or -not $outputs.ContainsKey($Name)) {
        throw ('exch-cert: step ' + $Step + ' has not set output ' + $Name + '; it must run, and not be skipped, before this step')
    }
    return $outputs[$Name]
}

function global:Test-ExchCertOutput {
    # For 'when': an output of a step that did not run (or failed) counts as false.
    param([string]$Step, [string]$Name)
    $outputs = $global:ExchCert.Outputs[$Step]
    if ($null -eq $outputs -or -not $outputs.ContainsKey($Name)) { return $false }
    return [bool]$outputs[$Name]
}

function global:Set-ExchCertOutput {
    param([string]$Name, $Value)
    $global:ExchCert.Current.Outputs[$Name] = $Value
}

function global:Set-ExchCertUnchanged {
    $global:ExchCert.Current.Status = 'ok'
}

function global:Resolve-ExchCertPath {
    param([string]$Path)
    return $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
}

function global:Read-ExchCertSecret {
    param([string]$Name, [string]$Variable)
    $value = [Environment]::GetEnvironmentVariable($Variable)
    if ([string]::IsNullOrEmpty($value)) {
        throw ('exch-cert: secret ' + $Name + ' is not set: put it in the environment variable ' + $Variable)
    }
    [Environment]::SetEnvironmentVariable($Variable, $null)
    return (New-Object -TypeName System.Net.NetworkCredential -ArgumentList @('', $value)).SecurePassword
}

function global:Read-ExchCertPfx {
    param([byte[]]$Bytes, [System.Security.SecureString]$Password)
    $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]::DefaultKeySet
    if ([Enum]::GetNames([System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]) -contains 'EphemeralKeySet') {
        $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]'EphemeralKeySet'
    }
    try {
        return [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($Bytes, $Password, $flags)
    } catch {
        throw ('exch-cert: cannot open the PFX (wrong password, or an encryption this Windows cannot read, see P17): ' + $_.Exception.Message)
    }
}

function global:Invoke-ExchCertHost {
    param([string]$Server, [scriptblock]$ScriptBlock, [object[]]$ArgumentList = @())
    $thisComputer = $Server.Split('.')[0] -eq $env:COMPUTERNAME
    if ($global:ExchCert.HostMode -eq 'local' -or $thisComputer) {
        return & $ScriptBlock @ArgumentList
    }
    $invoke = @{ ComputerName = $Server; ScriptBlock = $ScriptBlock; ArgumentList = $ArgumentList; ErrorAction = 'Stop' }
    if ($global:ExchCert.Credential) { $invoke.Credential = $global:ExchCert.Credential }
    return Invoke-Command @invoke
}`;

/** The prologue: settings, helpers, secrets and the connection. Sent once, before the first step. */
export function renderPrologue(connection: Connection, secrets: readonly SecretSource[]): string {
  const hostMode = connection.kind === 'remote' ? 'remote' : 'local';
  return lines(
    '# ---- prologue: settings, helpers, secrets, connection ----',
    "$ErrorActionPreference = 'Stop'",
    "$ProgressPreference = 'SilentlyContinue'",
    `$global:ExchCert = @{ Server = ${psString(connection.server)}; HostMode = ${psString(hostMode)}; Session = $null; Credential = $null; Outputs = @{}; Secrets = @{}; Current = $null }`,
    '',
    HELPERS,
    '',
    ...secrets.map(
      (secret) => `$global:ExchCert.Secrets[${psString(secret.param)}] = Read-ExchCertSecret -Name ${psString(secret.param)} -Variable ${psString(secret.env)}`,
    ),
    ...(secrets.length > 0 ? [''] : []),
    renderConnect(connection),
  );
}

function renderConnect(connection: Connection): string {
  switch (connection.kind) {
    case 'remote':
      return lines(
        '# Connection: Exchange remote PowerShell (cmdlets already loaded, as in the Exchange Management Shell, are used as they are)',
        connection.credentialEnv &&
          lines(
            `$exchCertUser = [Environment]::GetEnvironmentVariable(${psString(connection.credentialEnv.user)})`,
            `if ([string]::IsNullOrEmpty($exchCertUser)) { throw ${psString(`exch-cert: the environment variable ${connection.credentialEnv.user} (user name) is not set`)} }`,
            `$global:ExchCert.Credential = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList @($exchCertUser, (Read-ExchCertSecret -Name 'credential' -Variable ${psString(connection.credentialEnv.password)}))`,
          ),
        openExchangeSession(psString(`http://${connection.server}/PowerShell/`)),
      );
    case 'local':
      // What the Exchange Management Shell does, without dot-sourcing RemoteExchange.ps1 (whose
      // functions would vanish with the block's scope): a remote session to this server's own FQDN.
      return lines(
        '# Connection: Exchange PowerShell on this server (as the Exchange Management Shell connects)',
        openExchangeSession("('http://' + [System.Net.Dns]::GetHostEntry($env:COMPUTERNAME).HostName + '/PowerShell/')"),
      );
    case 'module':
      return lines('# Connection: a module that provides the Exchange cmdlets', `Import-Module -Name ${psString(connection.modulePath)} -Global -Force -DisableNameChecking`);
  }
}

/**
 * Opens the Exchange PowerShell session at `uriExpression` (Kerberos, or the
 * --credential-env account) and imports its cmdlets globally, unless Exchange
 * cmdlets are already loaded (as in the Exchange Management Shell).
 */
function openExchangeSession(uriExpression: string): string {
  return lines(
    "if (-not (Get-Command -Name 'Get-ExchangeCertificate' -ErrorAction SilentlyContinue)) {",
    `    $session = @{ ConfigurationName = 'Microsoft.Exchange'; ConnectionUri = ${uriExpression}; Authentication = 'Kerberos' }`,
    '    if ($global:ExchCert.Credential) { $session.Credential = $global:ExchCert.Credential }',
    '    $global:ExchCert.Session = New-PSSession @session',
    '    $null = Import-Module (Import-PSSession -Session $global:ExchCert.Session -DisableNameChecking -AllowClobber) -Global -DisableNameChecking',
    '}',
  );
}

/** The epilogue: closes the remote session. Sent once, after the last step (also after a failure). */
export function renderEpilogue(): string {
  return lines(
    '# ---- epilogue: disconnect ----',
    'if ($global:ExchCert.Session) {',
    '    Remove-PSSession -Session $global:ExchCert.Session',
    '    $global:ExchCert.Session = $null',
    '}',
  );
}
