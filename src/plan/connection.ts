import { psString, psStringArray } from '../powershell/quote.js';
import { lines } from '../powershell/script.js';

/**
 * How the script reaches Exchange:
 * - remote: Exchange remote PowerShell on the server's FQDN (http://FQDN/PowerShell/, Kerberos or an
 *   explicit account), the supported way in; host steps go through a second session (WinRM) to the
 *   server's own Windows PowerShell. `sessionModule` replaces only how those two sessions are opened
 *   (a module exporting New-ExchCertExchangeSession and New-ExchCertHostSession): the tests use it to
 *   reach the simulator over real PowerShell remoting (SSH); everything else runs unchanged.
 * - local: on the server itself, as the Exchange Management Shell connects (cmdlets already loaded
 *   are used); host steps run in this shell, which must be on that server.
 * - module: a PowerShell module that provides the cmdlets (the simulator); host steps run in this shell,
 *   those for another server (an Edge) with $env:EXCH_CERT_SIMULATOR_HOST naming that server meanwhile,
 *   which is how the simulator knows which server a shell is on.
 */
export type Connection =
  | {
      readonly kind: 'remote';
      readonly server: string;
      readonly credentialEnv?: { readonly user: string; readonly password: string };
      readonly sessionModule?: string;
      /**
       * Other servers whose host sessions open with an account of their own, such as an Edge
       * Transport server, which is not in the domain (the user and password variables of each).
       */
      readonly hostCredentials?: ReadonlyArray<{ readonly server: string; readonly user: string; readonly password: string }>;
    }
  | { readonly kind: 'local'; readonly server: string }
  | { readonly kind: 'module'; readonly server: string; readonly modulePath: string };

/** One line describing the connection, for headers and messages. */
export function describeConnection(connection: Connection): string {
  switch (connection.kind) {
    case 'remote': {
      const account = connection.credentialEnv ? 'credentials from the environment' : 'Kerberos, current user';
      const opener = connection.sessionModule ? `; sessions opened by ${connection.sessionModule}` : '';
      const hosts = (connection.hostCredentials ?? []).map((host) => `; ${host.server} with its own account from the environment`).join('');
      return `remote Exchange PowerShell on ${connection.server} (${account}${opener}${hosts})`;
    }
    case 'local':
      return `Exchange Management Shell on this server (${connection.server})`;
    case 'module':
      return `cmdlets from the module ${connection.modulePath} (server ${connection.server})`;
  }
}

/**
 * The part of the prologue that connects: the session openers, Connect-ExchCertExchange (also used
 * to reconnect after iisreset) and the host session, then the first connection.
 */
export function renderConnect(connection: Connection): string {
  switch (connection.kind) {
    case 'remote':
      return lines(
        `# Connection: ${describeConnection(connection)}`,
        connection.credentialEnv &&
          lines(
            `$exchCertUser = [Environment]::GetEnvironmentVariable(${psString(connection.credentialEnv.user)})`,
            `if ([string]::IsNullOrEmpty($exchCertUser)) { throw ${psString(`exch-cert: the environment variable ${connection.credentialEnv.user} (user name) is not set`)} }`,
            `$global:ExchCert.Credential = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList @($exchCertUser, (Read-ExchCertSecret -Name 'credential' -Variable ${psString(connection.credentialEnv.password)}))`,
          ),
        ...(connection.hostCredentials ?? []).map((host) =>
          lines(
            `$exchCertUser = [Environment]::GetEnvironmentVariable(${psString(host.user)})`,
            `if ([string]::IsNullOrEmpty($exchCertUser)) { throw ${psString(`exch-cert: the environment variable ${host.user} (user name for ${host.server}) is not set`)} }`,
            `$global:ExchCert.HostCredentials[${psString(host.server.toLowerCase())}] = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList @($exchCertUser, (Read-ExchCertSecret -Name ${psString(`credential of ${host.server}`)} -Variable ${psString(host.password)}))`,
          ),
        ),
        connection.sessionModule === undefined
          ? REMOTE_SESSION_OPENERS
          : lines(
              '# The sessions are opened by this module instead (New-ExchCertExchangeSession, New-ExchCertHostSession).',
              `Import-Module -Name ${psString(connection.sessionModule)} -Global -Force -DisableNameChecking -ErrorAction Stop`,
            ),
        CONNECT_SESSION,
        CONNECT_HOST,
        'Connect-ExchCertExchange',
      );
    case 'local':
      return lines(
        '# Connection: Exchange PowerShell on this server (as the Exchange Management Shell connects)',
        LOCAL_CHECKS,
        LOCAL_SESSION_OPENER,
        CONNECT_SESSION,
        // Inside the Exchange Management Shell the cmdlets are there already; use them.
        "if (-not (Get-Command -Name 'Get-ExchangeCertificate' -ErrorAction SilentlyContinue)) { Connect-ExchCertExchange }",
      );
    case 'module':
      return lines(
        '# Connection: a module that provides the Exchange cmdlets',
        `$global:ExchCert.ModulePath = ${psString(connection.modulePath)}`,
        "$global:ExchCert.HostVariable = 'EXCH_CERT_SIMULATOR_HOST'",
        CONNECT_MODULE,
        'Connect-ExchCertExchange',
      );
  }
}

/** The `$global:ExchCert` fields that say how to connect. */
export function connectionState(connection: Connection, exchangeCommands: readonly string[]): string {
  const hostMode = connection.kind === 'remote' ? 'session' : 'local';
  return `Server = ${psString(connection.server)}; HostMode = ${psString(hostMode)}; ExchangeCommands = ${psStringArray(exchangeCommands)}`;
}

const REMOTE_SESSION_OPENERS = String.raw`function global:New-ExchCertExchangeSession {
    # Exchange's /PowerShell endpoint on the server's FQDN: Kerberos needs the FQDN (a load-balanced
    # name fails), and the endpoint is plain http by design (Kerberos encrypts the session).
    param([string]$Server, [System.Management.Automation.PSCredential]$Credential)
    $fqdn = Resolve-ExchCertFqdn -Server $Server
    $open = @{ ConfigurationName = 'Microsoft.Exchange'; ConnectionUri = ('http://' + $fqdn + '/PowerShell/'); Authentication = 'Kerberos'; ErrorAction = 'Stop' }
    if ($Credential) { $open.Credential = $Credential }
    New-PSSession @open
}

function global:New-ExchCertHostSession {
    # The server's own Windows PowerShell over WinRM, for services and IIS.
    param([string]$Server, [System.Management.Automation.PSCredential]$Credential)
    $open = @{ ComputerName = (Resolve-ExchCertFqdn -Server $Server); ErrorAction = 'Stop' }
    if ($Credential) { $open.Credential = $Credential }
    New-PSSession @open
}`;

const LOCAL_SESSION_OPENER = String.raw`function global:New-ExchCertExchangeSession {
    # What the Exchange Management Shell does, without dot-sourcing RemoteExchange.ps1 (whose functions
    # would vanish with the block's scope): a session to this server's own FQDN.
    param([string]$Server, [System.Management.Automation.PSCredential]$Credential)
    $fqdn = Resolve-ExchCertFqdn -Server $env:COMPUTERNAME
    New-PSSession -ConfigurationName 'Microsoft.Exchange' -ConnectionUri ('http://' + $fqdn + '/PowerShell/') -Authentication Kerberos -ErrorAction Stop
}`;

/** Host steps run in this very shell in local mode: it must be the server, and Windows PowerShell there. */
const LOCAL_CHECKS = String.raw`if ($global:ExchCert.Server.Split('.')[0] -ne $env:COMPUTERNAME) {
    throw ('exch-cert: --connect local runs the IIS and service steps on this computer (' + $env:COMPUTERNAME + '), but the server is ' + $global:ExchCert.Server + '. Run exch-cert on ' + $global:ExchCert.Server + ', or use --connect remote.')
}
if ($PSVersionTable.PSEdition -eq 'Core') {
    # On Windows, PowerShell 7 loads WebAdministration through the compatibility layer, whose
    # deserialized bindings have no AddSslCertificate: the IIS steps need Windows PowerShell 5.1.
    throw 'exch-cert: --connect local needs Windows PowerShell 5.1 for the IIS steps (PowerShell 7 gets IIS only through its compatibility layer). Run it with --shell powershell.'
}`;

/**
 * Connect-ExchCertExchange for remote and local connections: a new Exchange session, and exactly the
 * cmdlets the plan uses imported from it into the global scope. -AllowClobber and the check after it
 * make sure no module or function that happens to be loaded answers in Exchange's place.
 */
const CONNECT_SESSION = String.raw`function global:Connect-ExchCertExchange {
    if ($global:ExchCert.Session) {
        Remove-PSSession -Session $global:ExchCert.Session -ErrorAction SilentlyContinue
        $global:ExchCert.Session = $null
    }
    if ($global:ExchCert.ExchangeModule) {
        Remove-Module -ModuleInfo $global:ExchCert.ExchangeModule -Force -ErrorAction SilentlyContinue
        $global:ExchCert.ExchangeModule = $null
    }
    $global:ExchCert.Session = New-ExchCertExchangeSession -Server $global:ExchCert.Server -Credential $global:ExchCert.Credential
    $imported = Import-PSSession -Session $global:ExchCert.Session -CommandName $global:ExchCert.ExchangeCommands -DisableNameChecking -AllowClobber -ErrorAction Stop
    $global:ExchCert.ExchangeModule = Import-Module -ModuleInfo $imported -Global -DisableNameChecking -Force -PassThru -ErrorAction Stop
    Assert-ExchCertCommands -ModuleName $global:ExchCert.ExchangeModule.Name -From ('the Exchange session on ' + $global:ExchCert.Server)
    $global:ExchCert.Reconnect = $false
}`;

/**
 * The host session of a remote connection, opened on first use and again when it broke; a server
 * whose Windows PowerShell is older than 5.1 is refused before any step runs there.
 */
const CONNECT_HOST = String.raw`function global:Connect-ExchCertHost {
    param([string]$Server)
    $existing = $global:ExchCert.HostSessions[$Server]
    if ($existing) { Remove-PSSession -Session $existing -ErrorAction SilentlyContinue }
    # A server outside the domain (an Edge) has an account of its own.
    $credential = $global:ExchCert.HostCredentials[$Server.ToLowerInvariant()]
    if (-not $credential) { $credential = $global:ExchCert.Credential }
    $session = New-ExchCertHostSession -Server $Server -Credential $credential
    $version = Invoke-Command -Session $session -ScriptBlock { $PSVersionTable.PSVersion.Major } -ErrorAction Stop
    if ([int]$version -lt 5) {
        Remove-PSSession -Session $session -ErrorAction SilentlyContinue
        throw ('exch-cert: ' + $Server + ' runs PowerShell ' + $version + '.0; the IIS and service steps need Windows PowerShell 5.1 there (install WMF 5.1, as Exchange 2016 on Windows Server 2012 R2 requires)')
    }
    $global:ExchCert.HostSessions[$Server] = $session
    return $session
}`;

/** Connect-ExchCertExchange for a module connection: (re)importing the module is connecting. */
const CONNECT_MODULE = String.raw`function global:Connect-ExchCertExchange {
    $global:ExchCert.ExchangeModule = Import-Module -Name $global:ExchCert.ModulePath -Global -Force -DisableNameChecking -PassThru -ErrorAction Stop
    Assert-ExchCertCommands -ModuleName $global:ExchCert.ExchangeModule.Name -From ('the module ' + $global:ExchCert.ModulePath)
    $global:ExchCert.Reconnect = $false
}`;
