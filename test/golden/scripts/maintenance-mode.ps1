# exch-cert 0.0.0-test plan for runbook maintenance-mode (test.yaml)
# Take a Mailbox server out of service the way Exchange documents it, and bring it back: record the components that are not Active, drain transport (HubTransport Draining, requester Maintenance), redirect its queued messages to another Mailbox server, wait for its queues to empty, take it offline (ServerWideOffline Inactive); then ServerWideOffline and HubTransport Active again, every component checked, and service health. Run alone it enters and leaves maintenance at once. `exch-cert renew --drain` puts a renewal between the two halves: the steps before server-online go before the renewal's first change, the rest after its restarts and health check; the onFailure steps join the renewal's, so a failed renewal still brings the server back.
#
# This is the script exch-cert runs. `exch-cert run` sends the prologue, each
# step block (from its '# [n/N]' line through its closing brace) and the
# epilogue to one PowerShell session, in this order, exactly as printed.
# The try/catch/finally lines stand in for exch-cert when this file is run
# by hand: they stop at the first failing step and run the onFailure steps.
# Timeouts, retries and confirmations are applied by exch-cert only.
#
# Connection: remote Exchange PowerShell on EXCH01 (Kerberos, current user)
# Parameters:
#   server              = 'EXCH01'
#   redirectTo          = 'EXCH02'
#   queueTimeoutSeconds = 600 (default)
#   queuePollSeconds    = 10 (default)
# Known only at run time (the script reads them with Get-ExchCertOutput):
#   steps.components-before.outputs.notActive
#   steps.components-before.outputs.checked

# ---- prologue: settings, helpers, secrets, connection ----
if ($PSVersionTable.PSVersion.Major -lt 5) { throw ('exch-cert: this needs Windows PowerShell 5.1 or PowerShell 7; this is PowerShell ' + $PSVersionTable.PSVersion + '. Exchange 2016 on Windows Server 2012 R2 needs WMF 5.1.') }
$global:ErrorActionPreference = 'Stop'
$ErrorActionPreference = 'Stop'
$global:ProgressPreference = 'SilentlyContinue'
$global:ExchCert = @{ Server = 'EXCH01'; HostMode = 'session'; ExchangeCommands = @('Get-ExchangeServer','Get-Queue','Get-ServerComponentState','Redirect-Message','Set-ServerComponentState','Test-ServiceHealth'); Session = $null; ExchangeModule = $null; HostSessions = @{}; HostCredentials = @{}; Credential = $null; Reconnect = $false; Outputs = @{}; Secrets = @{}; Current = $null }

function global:Invoke-ExchCertStep {
    param(
        [Parameter(Mandatory = $true)][string]$Id,
        [Parameter(Mandatory = $true)][scriptblock]$Body,
        [switch]$ReadOnly,
        [switch]$Exchange,
        [scriptblock]$When
    )
    $ErrorActionPreference = 'Stop'
    $step = @{ Id = $Id; Status = 'changed'; Outputs = @{} }
    if ($ReadOnly) { $step.Status = 'ok' }
    $global:ExchCert.Current = $step
    if ($When -and -not (& $When)) {
        $step.Status = 'skipped'
    } else {
        if ($Exchange) { Assert-ExchCertConnected }
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
    # A literal path: no wildcards, no PowerShell drives ('$env:X' or 'a:b' stay file names); a
    # relative one is relative to the current folder. '\' separates folders everywhere, as in PowerShell.
    param([string]$Path)
    if ([System.IO.Path]::DirectorySeparatorChar -eq '/') { $Path = $Path.Replace('\', '/') }
    $here = $ExecutionContext.SessionState.Path.CurrentFileSystemLocation.ProviderPath
    return [System.IO.Path]::GetFullPath([System.IO.Path]::Combine($here, $Path))
}

function global:Read-ExchCertSecret {
    param([string]$Name, [string]$Variable)
    $value = [Environment]::GetEnvironmentVariable($Variable)
    if ([string]::IsNullOrEmpty($value)) {
        throw ('exch-cert: secret ' + $Name + ' is not set: put it in the environment variable ' + $Variable)
    }
    # [NullString]: PowerShell would pass $null to .NET as '', which leaves the variable there, empty.
    [Environment]::SetEnvironmentVariable($Variable, [NullString]::Value)
    return (New-Object -TypeName System.Net.NetworkCredential -ArgumentList @('', $value)).SecurePassword
}

function global:Read-ExchCertPfx {
    param([byte[]]$Bytes, [System.Security.SecureString]$Password)
    $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]::DefaultKeySet
    if ([Enum]::GetNames([System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]) -contains 'EphemeralKeySet') {
        $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]'EphemeralKeySet'
    }
    try {
        return New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2 -ArgumentList @($Bytes, $Password, $flags)
    } catch {
        throw ('exch-cert: cannot open the PFX: the password is wrong, or the file uses an encryption this Windows cannot read (Windows Server 2016 and older cannot read AES-protected files: re-export it with openssl pkcs12 -export -legacy): ' + $_.Exception.Message)
    }
}

function global:Write-ExchCertPrivateFile {
    # Writes a new file that only its owner can read: never over an existing file, and on Linux and
    # macOS with mode 0600 before the first byte is written (Windows: the folder's ACL applies).
    param([string]$Path, [byte[]]$Bytes)
    $stream = New-Object -TypeName System.IO.FileStream -ArgumentList @($Path, [System.IO.FileMode]::CreateNew, [System.IO.FileAccess]::Write, [System.IO.FileShare]::None)
    try {
        $modeType = 'System.IO.UnixFileMode' -as [type]
        if ($modeType -and [System.Environment]::OSVersion.Platform -eq 'Unix') { [System.IO.File]::SetUnixFileMode($stream.SafeFileHandle, ('UserRead, UserWrite' -as $modeType)) }
        $stream.Write($Bytes, 0, $Bytes.Length)
        $stream.Flush($true)
    } finally {
        $stream.Dispose()
    }
}

function global:Resolve-ExchCertFqdn {
    # Every name that builds a URI is checked here too, whatever the plan said.
    param([string]$Server)
    if ($Server -notmatch '^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*$') {
        throw ('exch-cert: ' + $Server + ' is not a server name such as EXCH01 or exch01.contoso.com')
    }
    try {
        $name = [System.Net.Dns]::GetHostEntry($Server).HostName
    } catch {
        throw ('exch-cert: cannot find ' + $Server + ' in DNS (' + $_.Exception.Message + '); pass --server with the server''s FQDN')
    }
    if ($name -notmatch '\.') { throw ('exch-cert: DNS gives no FQDN for ' + $Server + ' (only ' + $name + '), and Kerberos needs one; pass --server with the server''s FQDN') }
    return $name
}

function global:Assert-ExchCertCommands {
    # Each Exchange cmdlet the plan uses must now come from the Exchange connection, not from a
    # module, function or alias that happens to be loaded.
    param([string]$ModuleName, [string]$From)
    foreach ($name in $global:ExchCert.ExchangeCommands) {
        $command = Get-Command -Name $name -ErrorAction SilentlyContinue | Select-Object -First 1
        if (-not $command) { throw ('exch-cert: ' + $From + ' offers no ' + $name + '; does the account have the Exchange role that grants it?') }
        if ($command.ModuleName -ne $ModuleName) {
            throw ('exch-cert: ' + $name + ' resolves to ' + $command.CommandType + ' ' + $command.Name + ' from ''' + $command.Source + ''', not to ' + $From + '; remove it from this session')
        }
    }
}

function global:Assert-ExchCertConnected {
    # iisreset ends the Exchange session (/PowerShell runs in IIS), and implicit remoting's own
    # reconnect would prompt for credentials, which cannot work without a console: reconnect here.
    $session = $global:ExchCert.Session
    if ($global:ExchCert.Reconnect -or ($session -and $session.State -ne 'Opened')) {
        Write-Host ('exch-cert: connecting to Exchange on ' + $global:ExchCert.Server + ' again')
        Connect-ExchCertExchange
    }
}

function global:Find-ExchCertCertificate {
    # The certificate with this thumbprint, or $null. It lists the store and filters, so "not there"
    # never depends on how an error is worded, and any other failure still stops the step.
    param([string]$Server, [string]$Thumbprint)
    if ([string]::IsNullOrEmpty($Thumbprint)) { throw 'exch-cert: no thumbprint given (Get-ExchangeCertificate -Thumbprint '''' would list every certificate)' }
    $wanted = $Thumbprint.ToUpperInvariant()
    return @(Get-ExchangeCertificate -Server $Server -ErrorAction Stop | Where-Object { ([string]$_.Thumbprint).ToUpperInvariant() -eq $wanted }) | Select-Object -First 1
}

function global:Invoke-ExchCertHost {
    # Code for the server's operating system: through the host session (remote), or in this shell,
    # which must then be on that server (local and module connections).
    param([string]$Server, [scriptblock]$ScriptBlock, [object[]]$ArgumentList = @())
    if ($global:ExchCert.HostMode -eq 'local') {
        if ($Server.Split('.')[0] -eq $global:ExchCert.Server.Split('.')[0]) { return & $ScriptBlock @ArgumentList }
        if (-not $global:ExchCert.HostVariable) { throw ('exch-cert: the ' + $global:ExchCert.Server + ' connection runs host steps in this shell, so it cannot run one for ' + $Server + '; use --connect remote') }
        # The simulator: this shell stands for that server while the block runs.
        $previous = [Environment]::GetEnvironmentVariable($global:ExchCert.HostVariable)
        [Environment]::SetEnvironmentVariable($global:ExchCert.HostVariable, $Server.Split('.')[0])
        try { return & $ScriptBlock @ArgumentList } finally { if ($null -eq $previous) { $previous = [NullString]::Value }; [Environment]::SetEnvironmentVariable($global:ExchCert.HostVariable, $previous) }
    }
    $session = $global:ExchCert.HostSessions[$Server]
    if (-not $session -or $session.State -ne 'Opened') { $session = Connect-ExchCertHost -Server $Server }
    return Invoke-Command -Session $session -ScriptBlock $ScriptBlock -ArgumentList $ArgumentList -ErrorAction Stop
}

# Connection: remote Exchange PowerShell on EXCH01 (Kerberos, current user)
function global:New-ExchCertExchangeSession {
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
}
function global:Connect-ExchCertExchange {
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
}
function global:Connect-ExchCertHost {
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
}
Connect-ExchCertExchange

# ---- steps ----
try {
# [1/9] components-before: Record the components that are not Active before maintenance
Invoke-ExchCertStep -Id 'components-before' -ReadOnly -Exchange -Body {
    $components = @(Get-ServerComponentState -Identity 'EXCH01' -ErrorAction 'Stop')
    if ($components.Count -eq 0) { throw ('exch-cert: Get-ServerComponentState returned no component for ' + 'EXCH01') }
    $allowed = @(@())
    $notActive = @($components | Where-Object { [string]$_.State -ne 'Active' } | ForEach-Object { [string]$_.Component })
    foreach ($component in $components) { if ([string]$component.State -ne 'Active') { Write-Host ('exch-cert: ' + [string]$component.Component + ' is ' + [string]$component.State) } }
    Set-ExchCertOutput -Name 'notActive' -Value $notActive
    Set-ExchCertOutput -Name 'checked' -Value $true
}

# [2/9] drain-transport: Drain transport (HubTransport Draining)
Invoke-ExchCertStep -Id 'drain-transport' -Exchange -Body {
    $component = 'HubTransport'
    $wanted = 'Draining'
    $before = [string](Get-ServerComponentState -Identity 'EXCH01' -Component $component -ErrorAction 'Stop').State
    Set-ServerComponentState -Identity 'EXCH01' -Component $component -Requester 'Maintenance' -State $wanted -Confirm:$false -ErrorAction 'Stop'
    $after = [string](Get-ServerComponentState -Identity 'EXCH01' -Component $component -ErrorAction 'Stop').State
    if ($after -ne $wanted) {
        throw ('exch-cert: Set-ServerComponentState reported no error, but ' + $component + ' on ' + 'EXCH01' + ' is ' + $after + ', not ' + $wanted + '; another requester holds it (see the LocalStates of Get-ServerComponentState ' + 'EXCH01' + ' -Component ' + $component + ')')
    }
    Write-Host ('exch-cert: ' + $component + ' was ' + $before + ', is ' + $after)
    if ($before -eq $wanted) { Set-ExchCertUnchanged }
    Set-ExchCertOutput -Name 'previousState' -Value $before
}

# [3/9] redirect-messages: Redirect the messages queued on EXCH01 to EXCH02
Invoke-ExchCertStep -Id 'redirect-messages' -Exchange -Body {
    $target = Get-ExchangeServer -Identity 'EXCH02' -ErrorAction 'Stop'
    if ([string]$target.ServerRole -notmatch 'Mailbox') { throw ('exch-cert: ' + 'EXCH02' + ' is a ' + [string]$target.ServerRole + ' server; messages can only be redirected to a Mailbox server') }
    if ([string]$target.Name -eq ([string]'EXCH01').Split('.')[0] -or [string]$target.Fqdn -eq 'EXCH01') { throw ('exch-cert: the messages of ' + 'EXCH01' + ' cannot be redirected to itself') }
    $transport = [string](Get-ServerComponentState -Identity 'EXCH02' -Component 'HubTransport' -ErrorAction 'Stop').State
    if ($transport -ne 'Active') { throw ('exch-cert: the transport of ' + [string]$target.Name + ' is ' + $transport + ', not Active: redirect to a server that is in service') }
    Redirect-Message -Server 'EXCH01' -Target ([string]$target.Fqdn) -Confirm:$false -ErrorAction 'Stop'
    Write-Host ('exch-cert: the messages of ' + 'EXCH01' + ' go to ' + [string]$target.Fqdn)
    Set-ExchCertOutput -Name 'target' -Value ([string]$target.Fqdn)
}

# [4/9] wait-for-queues: Wait until the queues of EXCH01 are empty (at most 600 s)
#   exch-cert: timeout 12h
Invoke-ExchCertStep -Id 'wait-for-queues' -ReadOnly -Exchange -Body {
    $deadline = [DateTime]::UtcNow.AddSeconds(600)
    while ($true) {
        $busy = @(Get-Queue -Server 'EXCH01' -ErrorAction 'Stop' | Where-Object { [string]$_.Identity -notlike '*\Poison' -and [string]$_.Identity -notlike '*\Shadow\*' -and [int]$_.MessageCount -gt 0 })
        if ($busy.Count -eq 0) { break }
        $left = @($busy | ForEach-Object { [string]$_.Identity + ' (' + [string]$_.Status + '): ' + [string]$_.MessageCount + ' message(s)' }) -join '; '
        if ([DateTime]::UtcNow -ge $deadline) { throw ('exch-cert: the queues of ' + 'EXCH01' + ' did not empty within ' + 600 + ' s: ' + $left) }
        Write-Host ('exch-cert: waiting for ' + $left)
        Start-Sleep -Seconds 10
    }
    Write-Host ('exch-cert: the queues of ' + 'EXCH01' + ' are empty')
}

# [5/9] server-offline: Take the server offline (ServerWideOffline Inactive)
Invoke-ExchCertStep -Id 'server-offline' -Exchange -Body {
    $component = 'ServerWideOffline'
    $wanted = 'Inactive'
    $before = [string](Get-ServerComponentState -Identity 'EXCH01' -Component $component -ErrorAction 'Stop').State
    Set-ServerComponentState -Identity 'EXCH01' -Component $component -Requester 'Maintenance' -State $wanted -Confirm:$false -ErrorAction 'Stop'
    $after = [string](Get-ServerComponentState -Identity 'EXCH01' -Component $component -ErrorAction 'Stop').State
    if ($after -ne $wanted) {
        throw ('exch-cert: Set-ServerComponentState reported no error, but ' + $component + ' on ' + 'EXCH01' + ' is ' + $after + ', not ' + $wanted + '; another requester holds it (see the LocalStates of Get-ServerComponentState ' + 'EXCH01' + ' -Component ' + $component + ')')
    }
    Write-Host ('exch-cert: ' + $component + ' was ' + $before + ', is ' + $after)
    if ($before -eq $wanted) { Set-ExchCertUnchanged }
    Set-ExchCertOutput -Name 'previousState' -Value $before
}

# [6/9] server-online: Bring the server online (ServerWideOffline Active)
Invoke-ExchCertStep -Id 'server-online' -Exchange -Body {
    $component = 'ServerWideOffline'
    $wanted = 'Active'
    $before = [string](Get-ServerComponentState -Identity 'EXCH01' -Component $component -ErrorAction 'Stop').State
    Set-ServerComponentState -Identity 'EXCH01' -Component $component -Requester 'Maintenance' -State $wanted -Confirm:$false -ErrorAction 'Stop'
    $after = [string](Get-ServerComponentState -Identity 'EXCH01' -Component $component -ErrorAction 'Stop').State
    if ($after -ne $wanted) {
        throw ('exch-cert: Set-ServerComponentState reported no error, but ' + $component + ' on ' + 'EXCH01' + ' is ' + $after + ', not ' + $wanted + '; another requester holds it (see the LocalStates of Get-ServerComponentState ' + 'EXCH01' + ' -Component ' + $component + ')')
    }
    Write-Host ('exch-cert: ' + $component + ' was ' + $before + ', is ' + $after)
    if ($before -eq $wanted) { Set-ExchCertUnchanged }
    Set-ExchCertOutput -Name 'previousState' -Value $before
}

# [7/9] transport-active: Resume transport (HubTransport Active)
Invoke-ExchCertStep -Id 'transport-active' -Exchange -Body {
    $component = 'HubTransport'
    $wanted = 'Active'
    $before = [string](Get-ServerComponentState -Identity 'EXCH01' -Component $component -ErrorAction 'Stop').State
    Set-ServerComponentState -Identity 'EXCH01' -Component $component -Requester 'Maintenance' -State $wanted -Confirm:$false -ErrorAction 'Stop'
    $after = [string](Get-ServerComponentState -Identity 'EXCH01' -Component $component -ErrorAction 'Stop').State
    if ($after -ne $wanted) {
        throw ('exch-cert: Set-ServerComponentState reported no error, but ' + $component + ' on ' + 'EXCH01' + ' is ' + $after + ', not ' + $wanted + '; another requester holds it (see the LocalStates of Get-ServerComponentState ' + 'EXCH01' + ' -Component ' + $component + ')')
    }
    Write-Host ('exch-cert: ' + $component + ' was ' + $before + ', is ' + $after)
    if ($before -eq $wanted) { Set-ExchCertUnchanged }
    Set-ExchCertOutput -Name 'previousState' -Value $before
}

# [8/9] components-active: Check that every component is Active again
#   known at run time: steps.components-before.outputs.notActive
Invoke-ExchCertStep -Id 'components-active' -ReadOnly -Exchange -Body {
    $components = @(Get-ServerComponentState -Identity 'EXCH01' -ErrorAction 'Stop')
    if ($components.Count -eq 0) { throw ('exch-cert: Get-ServerComponentState returned no component for ' + 'EXCH01') }
    $allowed = @((Get-ExchCertOutput -Step 'components-before' -Name 'notActive'))
    $notActive = @($components | Where-Object { [string]$_.State -ne 'Active' } | ForEach-Object { [string]$_.Component })
    foreach ($component in $components) { if ([string]$component.State -ne 'Active') { Write-Host ('exch-cert: ' + [string]$component.Component + ' is ' + [string]$component.State) } }
    $unexpected = @($notActive | Where-Object { $allowed -notcontains $_ })
    if ($unexpected.Count -gt 0) { throw ('exch-cert: on ' + 'EXCH01' + ' these components are not Active: ' + ($unexpected -join ', ') + '. Bring them back with Set-ServerComponentState ' + 'EXCH01' + ' -Component NAME -Requester Maintenance -State Active') }
    if ($notActive.Count -gt 0) { Write-Host ('exch-cert: left as they were before: ' + ($notActive -join ', ')) } else { Write-Host 'exch-cert: every component is Active' }
    Set-ExchCertOutput -Name 'notActive' -Value $notActive
    Set-ExchCertOutput -Name 'checked' -Value $true
}

# [9/9] health-after-maintenance: Check that the required Exchange services run
#   exch-cert: timeout 5m; 2 retries, 30s apart
Invoke-ExchCertStep -Id 'health-after-maintenance' -ReadOnly -Exchange -Body {
    $problems = @()
    $roles = @(Test-ServiceHealth -Server 'EXCH01' -ErrorAction 'Stop')
    foreach ($role in $roles) {
        Write-Host ('exch-cert: ' + $role.Role + ': required services running: ' + $role.RequiredServicesRunning)
        if (-not $role.RequiredServicesRunning -or [string]$role.RequiredServicesRunning -eq 'False') {
            $problems += ($role.Role + ': ' + (@($role.ServicesNotRunning) -join ', '))
        }
    }
    if ($roles.Count -eq 0 -and $problems.Count -eq 0) { $problems += ('Test-ServiceHealth returned no server role for ' + 'EXCH01') }
    if ($problems.Count -gt 0) { throw ('exch-cert: required services are not running: ' + ($problems -join '; ')) }
}
}
catch {
    $exchCertFailure = $_
    Write-Host ('exch-cert: stopped: ' + $exchCertFailure.Exception.Message)
# ---- onFailure steps: run only when a step fails ----
try {
# [onFailure 1/3] rollback-server-online: Bring the server online again (ServerWideOffline Active)
Invoke-ExchCertStep -Id 'rollback-server-online' -Exchange -Body {
    $component = 'ServerWideOffline'
    $wanted = 'Active'
    $before = [string](Get-ServerComponentState -Identity 'EXCH01' -Component $component -ErrorAction 'Stop').State
    Set-ServerComponentState -Identity 'EXCH01' -Component $component -Requester 'Maintenance' -State $wanted -Confirm:$false -ErrorAction 'Stop'
    $after = [string](Get-ServerComponentState -Identity 'EXCH01' -Component $component -ErrorAction 'Stop').State
    if ($after -ne $wanted) {
        throw ('exch-cert: Set-ServerComponentState reported no error, but ' + $component + ' on ' + 'EXCH01' + ' is ' + $after + ', not ' + $wanted + '; another requester holds it (see the LocalStates of Get-ServerComponentState ' + 'EXCH01' + ' -Component ' + $component + ')')
    }
    Write-Host ('exch-cert: ' + $component + ' was ' + $before + ', is ' + $after)
    if ($before -eq $wanted) { Set-ExchCertUnchanged }
    Set-ExchCertOutput -Name 'previousState' -Value $before
}
}
catch {
    Write-Warning ('exch-cert: onFailure step rollback-server-online failed: ' + $_.Exception.Message)
}

try {
# [onFailure 2/3] rollback-transport-active: Resume transport again (HubTransport Active)
Invoke-ExchCertStep -Id 'rollback-transport-active' -Exchange -Body {
    $component = 'HubTransport'
    $wanted = 'Active'
    $before = [string](Get-ServerComponentState -Identity 'EXCH01' -Component $component -ErrorAction 'Stop').State
    Set-ServerComponentState -Identity 'EXCH01' -Component $component -Requester 'Maintenance' -State $wanted -Confirm:$false -ErrorAction 'Stop'
    $after = [string](Get-ServerComponentState -Identity 'EXCH01' -Component $component -ErrorAction 'Stop').State
    if ($after -ne $wanted) {
        throw ('exch-cert: Set-ServerComponentState reported no error, but ' + $component + ' on ' + 'EXCH01' + ' is ' + $after + ', not ' + $wanted + '; another requester holds it (see the LocalStates of Get-ServerComponentState ' + 'EXCH01' + ' -Component ' + $component + ')')
    }
    Write-Host ('exch-cert: ' + $component + ' was ' + $before + ', is ' + $after)
    if ($before -eq $wanted) { Set-ExchCertUnchanged }
    Set-ExchCertOutput -Name 'previousState' -Value $before
}
}
catch {
    Write-Warning ('exch-cert: onFailure step rollback-transport-active failed: ' + $_.Exception.Message)
}

try {
# [onFailure 3/3] rollback-components-active: Check that every component is Active again
#   known at run time: steps.components-before.outputs.notActive, steps.components-before.outputs.checked
Invoke-ExchCertStep -Id 'rollback-components-active' -ReadOnly -Exchange -When { (Test-ExchCertOutput -Step 'components-before' -Name 'checked') } -Body {
    $components = @(Get-ServerComponentState -Identity 'EXCH01' -ErrorAction 'Stop')
    if ($components.Count -eq 0) { throw ('exch-cert: Get-ServerComponentState returned no component for ' + 'EXCH01') }
    $allowed = @((Get-ExchCertOutput -Step 'components-before' -Name 'notActive'))
    $notActive = @($components | Where-Object { [string]$_.State -ne 'Active' } | ForEach-Object { [string]$_.Component })
    foreach ($component in $components) { if ([string]$component.State -ne 'Active') { Write-Host ('exch-cert: ' + [string]$component.Component + ' is ' + [string]$component.State) } }
    $unexpected = @($notActive | Where-Object { $allowed -notcontains $_ })
    if ($unexpected.Count -gt 0) { throw ('exch-cert: on ' + 'EXCH01' + ' these components are not Active: ' + ($unexpected -join ', ') + '. Bring them back with Set-ServerComponentState ' + 'EXCH01' + ' -Component NAME -Requester Maintenance -State Active') }
    if ($notActive.Count -gt 0) { Write-Host ('exch-cert: left as they were before: ' + ($notActive -join ', ')) } else { Write-Host 'exch-cert: every component is Active' }
    Set-ExchCertOutput -Name 'notActive' -Value $notActive
    Set-ExchCertOutput -Name 'checked' -Value $true
}
}
catch {
    Write-Warning ('exch-cert: onFailure step rollback-components-active failed: ' + $_.Exception.Message)
}
    throw $exchCertFailure
}
finally {
# ---- epilogue: disconnect ----
foreach ($exchCertSession in @(@($global:ExchCert.HostSessions.Values) + @($global:ExchCert.Session))) {
    if ($exchCertSession) { Remove-PSSession -Session $exchCertSession -ErrorAction SilentlyContinue }
}
$global:ExchCert.HostSessions = @{}
$global:ExchCert.Session = $null
}
