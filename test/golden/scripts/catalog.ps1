# exch-cert 0.0.0-test plan for runbook catalog (test.yaml)
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
#   server         = 'exch01.contoso.com'
#   pfxPassword    = secret, read at run time from $env:PFX_PASSWORD
#   backupPassword = secret, read at run time from $env:BACKUP_PASSWORD
#   restartPop     = $true (default)
# Known only at run time (the script reads them with Get-ExchCertOutput):
#   steps.import.outputs.thumbprint
#   steps.create.outputs.thumbprint
#   steps.preflight.outputs.runningServices
#   steps.preflight.outputs.bindings
#   steps.preflight.outputs.renew
#   steps.enable.outputs.changed
#   steps.preflight.outputs.internalTransport
#   steps.preflight.outputs.createInternalTransport
#   steps.preflight.outputs.connectors
#   steps.find-loopback.outputs.thumbprint
#   steps.probe.outputs.served
#   steps.backup.outputs.path
#   steps.components-before.outputs.notActive
#   steps.edge-old.outputs.thumbprint
#   steps.edge-import.outputs.thumbprint
#   steps.edge-file.outputs.path
#   steps.edge-file.outputs.sha256
#   steps.edge-file.outputs.expiresAt
#   steps.edge-backup.outputs.path
#   steps.find-loopback.outputs.found

# ---- prologue: settings, helpers, secrets, connection ----
if ($PSVersionTable.PSVersion.Major -lt 5) { throw ('exch-cert: this needs Windows PowerShell 5.1 or PowerShell 7; this is PowerShell ' + $PSVersionTable.PSVersion + '. Exchange 2016 on Windows Server 2012 R2 needs WMF 5.1.') }
$global:ErrorActionPreference = 'Stop'
$ErrorActionPreference = 'Stop'
$global:ProgressPreference = 'SilentlyContinue'
$global:ExchCert = @{ Server = 'EXCH01'; HostMode = 'session'; ExchangeCommands = @('Enable-ExchangeCertificate','Export-ExchangeCertificate','Get-AuthConfig','Get-EdgeSubscription','Get-ExchangeCertificate','Get-ExchangeServer','Get-ImapSettings','Get-PopSettings','Get-Queue','Get-ReceiveConnector','Get-SendConnector','Get-ServerComponentState','Get-TransportService','Import-ExchangeCertificate','New-EdgeSubscription','New-ExchangeCertificate','Redirect-Message','Remove-EdgeSubscription','Remove-ExchangeCertificate','Set-ImapSettings','Set-PopSettings','Set-ReceiveConnector','Set-SendConnector','Set-ServerComponentState','Test-EdgeSynchronization','Test-ServiceHealth'); Session = $null; ExchangeModule = $null; HostSessions = @{}; HostCredentials = @{}; Credential = $null; Reconnect = $false; Outputs = @{}; Secrets = @{}; Current = $null }

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

$global:ExchCert.Secrets['pfxPassword'] = Read-ExchCertSecret -Name 'pfxPassword' -Variable 'PFX_PASSWORD'
$global:ExchCert.Secrets['backupPassword'] = Read-ExchCertSecret -Name 'backupPassword' -Variable 'BACKUP_PASSWORD'

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
# [1/37] preflight: Find every use of the old certificate and decide how the new one takes it over (changes nothing)
Invoke-ExchCertStep -Id 'preflight' -ReadOnly -Exchange -Body {
    $server = 'exch01.contoso.com'
    $requested = @('IIS','SMTP')
    $allowDropped = $true
    $newTakesTransport = $true
    $decisions = New-Object -TypeName System.Collections.Generic.List[string]
    function Add-Decision([string]$Text) { $decisions.Add($Text); Write-Host ('exch-cert: ' + $Text) }
    function Add-Warning([string]$Text) { $decisions.Add('warning: ' + $Text); Write-Warning ('exch-cert: ' + $Text) }
    # Names a certificate holds (its subject alternative names; Windows and OpenSSL word them differently).
    function Get-DnsNames($Certificate) {
        $names = @()
        foreach ($extension in $Certificate.Extensions) { if ($extension.Oid.Value -eq '2.5.29.17') { $names += @([regex]::Matches($extension.Format($false), '(?:DNS Name=|DNS:)\s*([^,\s]+)') | ForEach-Object { $_.Groups[1].Value }) } }
        return $names
    }
    # Whether a name is covered by one of the names, a wildcard covering one label (RFC 6125).
    function Test-Covered([string]$Name, [string[]]$Names) {
        foreach ($candidate in $Names) {
            if ($candidate -eq $Name) { return $true }
            if ($candidate.StartsWith('*.') -and $Name.Contains('.') -and $Name.Substring($Name.IndexOf('.')) -eq $candidate.Substring(1)) { return $true }
        }
        return $false
    }

    # The new certificate, from the PFX on this machine.
    $pfx = Read-ExchCertPfx -Bytes ([System.IO.File]::ReadAllBytes((Resolve-ExchCertPath -Path 'C:\certs\new.pfx'))) -Password $ExchCert.Secrets['pfxPassword']
    $newThumbprint = $pfx.Thumbprint.ToUpperInvariant()
    $newNames = @(Get-DnsNames $pfx)
    if ($pfx.NotAfter.ToUniversalTime() -le [datetime]::UtcNow -or $pfx.NotBefore.ToUniversalTime() -gt [datetime]::UtcNow) { throw ('exch-cert: the new certificate ' + $newThumbprint + ' is not valid now (valid ' + $pfx.NotBefore.ToString('u') + ' to ' + $pfx.NotAfter.ToString('u') + '); nothing was changed') }
    if (-not $pfx.HasPrivateKey) { throw ('exch-cert: the PFX holds no private key for ' + $newThumbprint + '; nothing was changed') }

    # What the server has now.
    $store = @(Get-ExchangeCertificate -Server $server -ErrorAction 'Stop')
    $web = Invoke-ExchCertHost -Server $server -ArgumentList @() -ScriptBlock {
        param()
        $ErrorActionPreference = 'Stop'
        if (-not (Get-Command -Name 'Get-WebBinding' -ErrorAction SilentlyContinue)) { Import-Module WebAdministration }
        $bindings = @(Get-WebBinding -Protocol 'https' | ForEach-Object { $site = ''; if ([string]$_.ItemXPath -match "@name='([^']*)'") { $site = $Matches[1] }; [pscustomobject]@{ Site = $site; Information = [string]$_.bindingInformation; Hash = ([string]$_.certificateHash).ToUpperInvariant() } })
        $flags = [string](Get-WebConfigurationProperty -PSPath 'MACHINE/WEBROOT/APPHOST' -Location 'Default Web Site' -Filter 'system.webServer/security/access' -Name 'sslFlags')
        $running = @(Get-Service -Name @('MSExchange*', 'W3SVC', 'WAS', 'IISADMIN') -ErrorAction SilentlyContinue | Where-Object { [string]$_.Status -eq 'Running' } | ForEach-Object { [string]$_.Name })
        [pscustomobject]@{ Bindings = $bindings; RequireSsl = (@($flags -split ',\s*') -contains 'Ssl'); Running = $running }
    }
    $internal = ([string](Get-TransportService -Identity 'exch01' -ErrorAction 'Stop').InternalTransportCertificateThumbprint).ToUpperInvariant()
    $auth = Get-AuthConfig -ErrorAction 'Stop'
    $connectors = @(@(Get-SendConnector -ErrorAction 'Stop') | ForEach-Object { [pscustomobject]@{ Kind = 'send'; Identity = [string]$_.Name; Name = [string]$_.TlsCertificateName } }) + @(@(Get-ReceiveConnector -Server $server -ErrorAction 'Stop') | ForEach-Object { [pscustomobject]@{ Kind = 'receive'; Identity = [string]$_.Identity; Name = [string]$_.TlsCertificateName } })

    # The old certificate: the one Default Web Site *:443 serves.
    $front = @($web.Bindings | Where-Object { $_.Site -eq 'Default Web Site' -and $_.Information -eq '*:443:' }) | Select-Object -First 1
    $oldThumbprint = ''
    if ($front) { $oldThumbprint = [string]$front.Hash }
    $old = $null
    if ($oldThumbprint) { $old = $store | Where-Object { ([string]$_.Thumbprint).ToUpperInvariant() -eq $oldThumbprint } | Select-Object -First 1 }
    $keepReason = ''
    $transportTarget = ''
    $createTransport = $false
    $connectorUpdates = @()
    $renew = $true
    if ($oldThumbprint -eq $newThumbprint) {
        $renew = $false
        Add-Decision ('Default Web Site *:443 already serves the new certificate ' + $newThumbprint + ': already renewed, nothing to change')
    }

    # Which bindings move: every https binding of every site that serves the old certificate.
    $moving = @()
    if (-not $oldThumbprint) {
        Add-Warning 'no certificate is bound to Default Web Site *:443: the new certificate will be bound there; there is no old certificate to back up or remove'
        $moving = @('Default Web Site|*:443:')
    } elseif ($renew) {
        $serving = @($web.Bindings | Where-Object { $_.Hash -eq $oldThumbprint })
        if ($old -and [bool]$old.IsSelfSigned) {
            # The Exchange self-signed certificate: only the front end moves; Exchange Back End and transport keep it.
            $serving = @($serving | Where-Object { $_.Site -eq 'Default Web Site' })
            $keepReason = 'it is an Exchange self-signed certificate, which Exchange Back End and the internal transport keep using'
        }
        $moving = @($serving | ForEach-Object { $_.Site + '|' + $_.Information })
        foreach ($binding in $moving) { Add-Decision ('binding ' + $binding.Replace('|', ' ') + ' moves from ' + $oldThumbprint + ' to ' + $newThumbprint) }
        foreach ($stay in @($web.Bindings | Where-Object { $_.Hash -and $_.Hash -ne $oldThumbprint })) { Add-Decision ('binding ' + $stay.Site + ' ' + $stay.Information + ' stays on ' + $stay.Hash) }
    }

    if ($renew -and $oldThumbprint -and -not $old) {
        Add-Warning ('the certificate ' + $oldThumbprint + ' that Default Web Site *:443 names is no longer in the store: the new certificate takes its bindings; there is nothing to back up or remove')
    }
    if ($renew -and $old) {
        $oldNotAfter = ([datetime]$old.NotAfter).ToUniversalTime()
        if ($oldNotAfter -le [datetime]::UtcNow) { Add-Warning ('the old certificate ' + $oldThumbprint + ' expired on ' + $oldNotAfter.ToString('u') + ': clients already see an expired certificate') }
        if ($pfx.NotAfter.ToUniversalTime() -le $oldNotAfter) { throw ('exch-cert: the new certificate ' + $newThumbprint + ' expires ' + $pfx.NotAfter.ToUniversalTime().ToString('u') + ', not later than the old one (' + $oldNotAfter.ToString('u') + '); nothing was changed') }
        $dropped = @(@($old.CertificateDomains) | ForEach-Object { [string]$_ } | Where-Object { $_ -and -not (Test-Covered $_ $newNames) })
        if ($dropped.Count -gt 0) { Add-Warning ('the new certificate does not cover ' + ($dropped -join ', ') + ', which the old one does: clients that use these names will get a name mismatch') }

        # Services the old certificate has and the new one will not get.
        $oldServices = @(([string]$old.Services) -split ',\s*' | Where-Object { $_ -and $_ -ne 'None' })
        if ($moving.Count -gt 0 -and $oldServices -notcontains 'IIS') { $oldServices += 'IIS' }
        $lost = @($oldServices | Where-Object { $requested -notcontains $_ })
        if ($lost.Count -gt 0) {
            if (-not $allowDropped) { throw ('exch-cert: the old certificate also serves ' + ($lost -join ', ') + ', which the new one would not get (services ' + ($requested -join ', ') + '); that would leave them on a certificate that is about to expire. Add them to --services, or say that they stay on the old certificate (allowDroppedServices); nothing was changed') }
            Add-Warning (($lost -join ', ') + ' stay on the old certificate, as asked; it is kept')
            if (-not $keepReason) { $keepReason = 'it still serves ' + ($lost -join ', ') }
            if ($lost -contains 'IIS') { $moving = @() }
        }

        # The Auth certificate signs OAuth tokens and EMS payloads: it must never be the one that goes.
        if (([string]$auth.CurrentCertificateThumbprint).ToUpperInvariant() -eq $oldThumbprint -or ([string]$auth.NextCertificateThumbprint).ToUpperInvariant() -eq $oldThumbprint) {
            throw ('exch-cert: the old certificate ' + $oldThumbprint + ' is the Auth certificate (Get-AuthConfig), which a renewal must not replace; renew the Auth certificate on its own first (MonitorExchangeAuthCertificate.ps1); nothing was changed')
        }

        # The internal transport certificate: never re-pinned to a certificate that is about to go.
        if ($internal -eq $oldThumbprint -and -not [bool]$old.IsSelfSigned) {
            if ($newTakesTransport) {
                $transportTarget = $newThumbprint
                Add-Decision ('the internal transport certificate moves to the new certificate ' + $newThumbprint + ', as asked')
            } else {
                # The Exchange self-signed certificate (CN=<server>) first; never the Auth certificate.
                $authThumbprints = @([string]$auth.CurrentCertificateThumbprint, [string]$auth.NextCertificateThumbprint, [string]$auth.PreviousCertificateThumbprint) | Where-Object { $_ } | ForEach-Object { $_.ToUpperInvariant() }
                $candidate = @($store | Where-Object { [bool]$_.IsSelfSigned -and [bool]$_.HasPrivateKey -and [string]$_.Status -eq 'Valid' -and ([string]$_.Thumbprint).ToUpperInvariant() -ne $oldThumbprint -and $authThumbprints -notcontains ([string]$_.Thumbprint).ToUpperInvariant() -and ([datetime]$_.NotAfter).ToUniversalTime() -gt [datetime]::UtcNow.AddDays(30) } | Sort-Object -Property @{ Expression = { [string]$_.Subject -eq ('CN=' + $server.Split('.')[0]) }; Descending = $true }, @{ Expression = { [datetime]$_.NotAfter }; Descending = $true }) | Select-Object -First 1
                if ($candidate) {
                    $transportTarget = ([string]$candidate.Thumbprint).ToUpperInvariant()
                    Add-Decision ('the internal transport certificate moves from the old certificate to the Exchange self-signed certificate ' + $transportTarget + ', as Microsoft advises')
                } else {
                    $createTransport = $true
                    Add-Decision 'the internal transport certificate moves from the old certificate to a new Exchange self-signed certificate (none is valid for 30 days or more)'
                }
            }
        }

        # Connectors name their certificate by issuer and subject, not thumbprint.
        $oldName = '<I>' + [string]$old.Issuer + '<S>' + [string]$old.Subject
        $newName = '<I>' + $pfx.Issuer + '<S>' + $pfx.Subject
        foreach ($connector in @($connectors | Where-Object { $_.Name -and $_.Name -eq $oldName })) {
            if ($newName -eq $oldName) { Add-Decision ($connector.Kind + ' connector ' + $connector.Identity + ' names the certificate by issuer and subject, which the new one shares: nothing to change') }
            else { $connectorUpdates += ($connector.Kind + '|' + $connector.Identity); Add-Warning ($connector.Kind + ' connector ' + $connector.Identity + ' will name the new certificate (' + $newName + '); in a hybrid organisation, run the Hybrid Configuration Wizard again afterwards') }
        }

        if (-not [bool]$old.PrivateKeyExportable -and -not $keepReason) { $keepReason = 'its private key is not exportable, so it cannot be backed up' }
    }
    $authExpires = @($store | Where-Object { ([string]$_.Thumbprint).ToUpperInvariant() -eq ([string]$auth.CurrentCertificateThumbprint).ToUpperInvariant() }) | Select-Object -First 1
    if ($authExpires -and ([datetime]$authExpires.NotAfter).ToUniversalTime() -lt [datetime]::UtcNow.AddDays(60)) { Add-Warning ('the Auth certificate ' + [string]$authExpires.Thumbprint + ' expires on ' + ([datetime]$authExpires.NotAfter).ToUniversalTime().ToString('u') + ': renew it (MonitorExchangeAuthCertificate.ps1), or OWA, ECP and Exchange PowerShell stop working') }

    $found = [bool]$old
    $remove = $renew -and $found -and -not $keepReason
    if ($renew -and $found) { if ($keepReason) { Add-Decision ('the old certificate ' + $oldThumbprint + ' stays in the store: ' + $keepReason) } else { Add-Decision ('the old certificate ' + $oldThumbprint + ' is backed up before the first change and removed at the end') } }
    if ($renew) { Add-Decision ('Require SSL on Default Web Site stays ' + $(if ($web.RequireSsl) { 'on' } else { 'off' })) }

    Set-ExchCertOutput -Name 'renew' -Value $renew
    Set-ExchCertOutput -Name 'found' -Value $found
    Set-ExchCertOutput -Name 'oldThumbprint' -Value $oldThumbprint
    Set-ExchCertOutput -Name 'newThumbprint' -Value $newThumbprint
    Set-ExchCertOutput -Name 'bindings' -Value @($moving)
    Set-ExchCertOutput -Name 'remove' -Value $remove
    Set-ExchCertOutput -Name 'rollbackBindings' -Value @($(if ($found) { $moving } else { @() }))
    Set-ExchCertOutput -Name 'keepReason' -Value $keepReason
    Set-ExchCertOutput -Name 'requireSsl' -Value ([bool]$web.RequireSsl)
    Set-ExchCertOutput -Name 'internalTransport' -Value ([string]$transportTarget)
    Set-ExchCertOutput -Name 'createInternalTransport' -Value ([bool]$createTransport)
    Set-ExchCertOutput -Name 'moveInternalTransport' -Value ([bool]$transportTarget -or [bool]$createTransport)
    Set-ExchCertOutput -Name 'connectors' -Value @($connectorUpdates)
    Set-ExchCertOutput -Name 'updateConnectors' -Value ($connectorUpdates.Count -gt 0)
    Set-ExchCertOutput -Name 'runningServices' -Value @($web.Running)
    Set-ExchCertOutput -Name 'decisions' -Value @($decisions)
}

# [2/37] create: Create a self-signed certificate for EXCH01, exch01.contoso.local
Invoke-ExchCertStep -Id 'create' -Exchange -Body {
    $certificate = New-ExchangeCertificate -Server 'exch01.contoso.com' -SubjectName 'CN=EXCH01' -DomainName @('EXCH01','exch01.contoso.local') -FriendlyName 'Back end' -PrivateKeyExportable $false -KeySize 4096 -Services 'None' -Force -ErrorAction 'Stop'
    if (-not $certificate -or -not (Find-ExchCertCertificate -Server 'exch01.contoso.com' -Thumbprint ([string]$certificate.Thumbprint))) { throw 'exch-cert: New-ExchangeCertificate reported no error, but the new certificate is not in the store' }
    Write-Host ('exch-cert: created ' + $certificate.Thumbprint + ' for ' + (@($certificate.CertificateDomains) -join ', '))
    Set-ExchCertOutput -Name 'thumbprint' -Value ([string]$certificate.Thumbprint)
}

# [3/37] import: Import the certificate from C:\certs\new.pfx
Invoke-ExchCertStep -Id 'import' -Exchange -Body {
    $bytes = [System.IO.File]::ReadAllBytes((Resolve-ExchCertPath -Path 'C:\certs\new.pfx'))
    $pfx = Read-ExchCertPfx -Bytes $bytes -Password $ExchCert.Secrets['pfxPassword']
    $thumbprint = $pfx.Thumbprint.ToUpperInvariant()
    Write-Host ('exch-cert: PFX holds ' + $pfx.Subject + ', thumbprint ' + $thumbprint + ', valid until ' + $pfx.NotAfter.ToString('u'))
    if (Find-ExchCertCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint) {
        Write-Host 'exch-cert: the certificate is already in the store; not importing it again'
        Set-ExchCertUnchanged
    } else {
        $null = Import-ExchangeCertificate -Server 'exch01.contoso.com' -FileData $bytes -Password $ExchCert.Secrets['pfxPassword'] -PrivateKeyExportable $true -FriendlyName 'Renewed 2026' -ErrorAction 'Stop'
        if (-not (Find-ExchCertCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint)) {
            throw ('exch-cert: Import-ExchangeCertificate reported no error, but certificate ' + $thumbprint + ' is not in the store of ' + 'exch01.contoso.com')
        }
    }
    Set-ExchCertOutput -Name 'thumbprint' -Value $thumbprint
}

# [4/37] find-by-thumbprint: Find certificate <import.thumbprint>
#   known at run time: steps.import.outputs.thumbprint
Invoke-ExchCertStep -Id 'find-by-thumbprint' -ReadOnly -Exchange -Body {
    $thumbprint = (Get-ExchCertOutput -Step 'import' -Name 'thumbprint')
    $certificate = $null
    if ($thumbprint) { $certificate = Find-ExchCertCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint }
    if (-not $certificate) {
        throw ('exch-cert: certificate ' + $thumbprint + ' is not in the store of ' + 'exch01.contoso.com')
    }
    Write-Host ('exch-cert: found ' + $certificate.Thumbprint + ' ' + $certificate.Subject + ', services ' + [string]$certificate.Services + ', valid until ' + ([datetime]$certificate.NotAfter).ToUniversalTime().ToString('u'))
    Set-ExchCertOutput -Name 'found' -Value $true
    Set-ExchCertOutput -Name 'thumbprint' -Value ([string]$certificate.Thumbprint)
    Set-ExchCertOutput -Name 'subject' -Value ([string]$certificate.Subject)
    Set-ExchCertOutput -Name 'notAfter' -Value ([datetime]$certificate.NotAfter).ToUniversalTime().ToString('o')
    Set-ExchCertOutput -Name 'services' -Value ([string]$certificate.Services)
}

# [5/37] find-loopback: Find the certificate bound to Default Web Site 127.0.0.1:443
Invoke-ExchCertStep -Id 'find-loopback' -ReadOnly -Exchange -Body {
    $thumbprint = [string](Invoke-ExchCertHost -Server 'exch01.contoso.com' -ArgumentList @('Default Web Site', 443, '127.0.0.1', $true) -ScriptBlock {
        param($Site, $Port, $Ip, $AllowMissing)
        $ErrorActionPreference = 'Stop'
        if (-not (Get-Command -Name 'Get-WebBinding' -ErrorAction SilentlyContinue)) { Import-Module WebAdministration }
        $information = $Ip + ':' + $Port + ':'
        $binding = Get-WebBinding -Name $Site -Protocol 'https' | Where-Object { $_.bindingInformation -eq $information }
        if (-not $binding -or -not $binding.certificateHash) {
            if ($AllowMissing) { return '' }
            throw ('exch-cert: no certificate is bound to ' + $Site + ' ' + $information)
        }
        [string]$binding.certificateHash
    })
    $certificate = $null
    if ($thumbprint) { $certificate = Find-ExchCertCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint }
    if (-not $certificate) {
        Write-Host 'exch-cert: no such certificate'
        Set-ExchCertOutput -Name 'found' -Value $false
        foreach ($name in @('thumbprint','subject','notAfter','services')) { Set-ExchCertOutput -Name $name -Value '' }
        return
    }
    Write-Host ('exch-cert: found ' + $certificate.Thumbprint + ' ' + $certificate.Subject + ', services ' + [string]$certificate.Services + ', valid until ' + ([datetime]$certificate.NotAfter).ToUniversalTime().ToString('u'))
    Set-ExchCertOutput -Name 'found' -Value $true
    Set-ExchCertOutput -Name 'thumbprint' -Value ([string]$certificate.Thumbprint)
    Set-ExchCertOutput -Name 'subject' -Value ([string]$certificate.Subject)
    Set-ExchCertOutput -Name 'notAfter' -Value ([datetime]$certificate.NotAfter).ToUniversalTime().ToString('o')
    Set-ExchCertOutput -Name 'services' -Value ([string]$certificate.Services)
}

# [6/37] in-use: List the certificates exch01.contoso.com uses
Invoke-ExchCertStep -Id 'in-use' -ReadOnly -Exchange -Body {
    $uses = [ordered]@{}
    $addUse = { param($Thumbprint, $Use) $key = ([string]$Thumbprint).ToUpperInvariant(); if (-not $key) { return }; if (-not $uses.Contains($key)) { $uses[$key] = New-Object -TypeName 'System.Collections.Generic.List[string]' }; $uses[$key].Add($Use) }
    $store = @(Get-ExchangeCertificate -Server 'exch01.contoso.com' -ErrorAction 'Stop')
    foreach ($certificate in $store) { foreach ($service in @(([string]$certificate.Services) -split ',' | ForEach-Object { $_.Trim() } | Where-Object { $_ -and $_ -ne 'None' -and $_ -ne 'IIS' })) { & $addUse $certificate.Thumbprint $service } }
    & $addUse ([string](Get-TransportService -Identity 'exch01' -ErrorAction 'Stop').InternalTransportCertificateThumbprint) 'internal transport'
    $auth = Get-AuthConfig -ErrorAction 'Stop'
    & $addUse ([string]$auth.CurrentCertificateThumbprint) 'Auth'
    & $addUse ([string]$auth.NextCertificateThumbprint) 'Auth (next)'
    $bindings = @(Invoke-ExchCertHost -Server 'exch01.contoso.com' -ArgumentList @() -ScriptBlock {
        param()
        $ErrorActionPreference = 'Stop'
        if (-not (Get-Command -Name 'Get-WebBinding' -ErrorAction SilentlyContinue)) { Import-Module WebAdministration }
        foreach ($binding in @(Get-WebBinding -Protocol 'https')) {
            $site = ''
            if ([string]$binding.ItemXPath -match "@name='([^']*)'") { $site = $Matches[1] }
            [pscustomobject]@{ Thumbprint = [string]$binding.certificateHash; Use = ('IIS ' + $site + ' ' + [string]$binding.bindingInformation) }
        }
    })
    foreach ($binding in $bindings) { & $addUse $binding.Thumbprint $binding.Use }
    $records = New-Object -TypeName System.Collections.Generic.List[string]
    foreach ($thumbprint in @($uses.Keys)) {
        $certificate = @($store | Where-Object { ([string]$_.Thumbprint).ToUpperInvariant() -eq $thumbprint }) | Select-Object -First 1
        $record = [ordered]@{ thumbprint = $thumbprint; subject = ''; notBefore = ''; notAfter = ''; services = ''; uses = [string[]]$uses[$thumbprint].ToArray(); inStore = [bool]$certificate }
        if ($certificate) {
            $record.subject = [string]$certificate.Subject
            $record.notBefore = ([datetime]$certificate.NotBefore).ToUniversalTime().ToString('o')
            $record.notAfter = ([datetime]$certificate.NotAfter).ToUniversalTime().ToString('o')
            $record.services = [string]$certificate.Services
        }
        $validity = 'not in the store'
        if ($certificate) { $validity = $record.subject + ', valid until ' + $record.notAfter }
        Write-Host ('exch-cert: ' + $thumbprint + ' (' + $validity + '): ' + ($record.uses -join ', '))
        $records.Add((ConvertTo-Json -InputObject $record -Compress))
    }
    Set-ExchCertOutput -Name 'certificates' -Value $records
    Set-ExchCertOutput -Name 'thumbprints' -Value ([string[]]@($uses.Keys))
}

# [7/37] enable-smtp-only: Enable the certificate for SMTP
#   known at run time: steps.import.outputs.thumbprint
Invoke-ExchCertStep -Id 'enable-smtp-only' -Exchange -Body {
    $thumbprint = (Get-ExchCertOutput -Step 'import' -Name 'thumbprint')
    $certificate = Find-ExchCertCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint
    if (-not $certificate) { throw ('exch-cert: certificate ' + $thumbprint + ' is not in the store of ' + 'exch01.contoso.com') }
    $services = @('SMTP')
    $enabled = @(([string]$certificate.Services) -split ',\s*' | Where-Object { $_ })
    $missing = @($services | Where-Object { $enabled -notcontains $_ })
    Set-ExchCertOutput -Name 'changed' -Value ($missing.Count -gt 0)
    if ($missing.Count -eq 0) {
        Write-Host ('exch-cert: already enabled for ' + ($services -join ', '))
        Set-ExchCertUnchanged
    } else {
        Enable-ExchangeCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint -Services $services -DoNotRequireSsl -Force -ErrorAction 'Stop'
        $now = @(([string](Find-ExchCertCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint).Services) -split ',\s*' | Where-Object { $_ })
        $still = @($services | Where-Object { $now -notcontains $_ })
        if ($still.Count -gt 0) { throw ('exch-cert: Enable-ExchangeCertificate reported no error, but ' + $thumbprint + ' is still not enabled for ' + ($still -join ', ')) }
    }
    Set-ExchCertOutput -Name 'services' -Value $services
}

# [8/37] enable: Enable the certificate for IIS, POP, IMAP, SMTP
#   known at run time: steps.import.outputs.thumbprint
Invoke-ExchCertStep -Id 'enable' -Exchange -Body {
    $thumbprint = (Get-ExchCertOutput -Step 'import' -Name 'thumbprint')
    $certificate = Find-ExchCertCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint
    if (-not $certificate) { throw ('exch-cert: certificate ' + $thumbprint + ' is not in the store of ' + 'exch01.contoso.com') }
    $services = @('IIS','POP','IMAP','SMTP')
    # Exchange does not enable POP and IMAP on a wildcard certificate; set-pop-imap-certificate-name covers them.
    if ([string]$certificate.Subject -match '(^|,\s*)CN=\*\.') {
        Write-Warning 'exch-cert: wildcard certificate: POP and IMAP are not enabled here; set their X509CertificateName instead'
        $services = @($services | Where-Object { $_ -ne 'POP' -and $_ -ne 'IMAP' })
    }
    $enabled = @(([string]$certificate.Services) -split ',\s*' | Where-Object { $_ })
    $missing = @($services | Where-Object { $enabled -notcontains $_ })
    Set-ExchCertOutput -Name 'changed' -Value ($missing.Count -gt 0)
    if ($missing.Count -eq 0) {
        Write-Host ('exch-cert: already enabled for ' + ($services -join ', '))
        Set-ExchCertUnchanged
    } else {
        $internalBefore = [string](Get-TransportService -Identity 'exch01' -ErrorAction 'Stop').InternalTransportCertificateThumbprint
        $enableError = $null
        try {
            Enable-ExchangeCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint -Services $services -DoNotRequireSsl -Force -ErrorAction 'Stop'
        } catch {
            $enableError = $_
        }
        # -Force makes this certificate the internal transport certificate. The property is read-only;
        # enabling the previous certificate for SMTP with -Force is how it goes back. Also when Enable
        # failed half-way.
        if ($internalBefore -and [string](Get-TransportService -Identity 'exch01' -ErrorAction 'Stop').InternalTransportCertificateThumbprint -ne $internalBefore) {
            Enable-ExchangeCertificate -Server 'exch01.contoso.com' -Thumbprint $internalBefore -Services @('SMTP') -Force -ErrorAction 'Stop'
            if ([string](Get-TransportService -Identity 'exch01' -ErrorAction 'Stop').InternalTransportCertificateThumbprint -ne $internalBefore) { throw ('exch-cert: could not keep ' + $internalBefore + ' as the internal transport certificate') }
            Write-Host ('exch-cert: internal transport certificate kept at ' + $internalBefore)
        }
        if ($enableError) { throw $enableError }
        $now = @(([string](Find-ExchCertCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint).Services) -split ',\s*' | Where-Object { $_ })
        $still = @($services | Where-Object { $now -notcontains $_ })
        if ($still.Count -gt 0) { throw ('exch-cert: Enable-ExchangeCertificate reported no error, but ' + $thumbprint + ' is still not enabled for ' + ($still -join ', ')) }
    }
    Set-ExchCertOutput -Name 'services' -Value $services
}

# [9/37] bind-back-end: Bind Exchange Back End *:444 to certificate <create.thumbprint>
#   known at run time: steps.create.outputs.thumbprint
Invoke-ExchCertStep -Id 'bind-back-end' -Body {
    $result = Invoke-ExchCertHost -Server 'exch01.contoso.com' -ArgumentList @(@(('Exchange Back End' + '|' + '*' + ':' + 444 + ':')), (Get-ExchCertOutput -Step 'create' -Name 'thumbprint')) -ScriptBlock {
        param($Targets, $Thumbprint)
        $ErrorActionPreference = 'Stop'
        if (-not (Get-Command -Name 'Get-WebBinding' -ErrorAction SilentlyContinue)) { Import-Module WebAdministration }
        $Thumbprint = ([string]$Thumbprint).ToUpperInvariant()
        $first = $null
        $changed = $false
        foreach ($target in @($Targets)) {
            $site, $information = ([string]$target).Split('|', 2)
            $address, $port, $hostName = $information.Split(':', 3)
            $find = { Get-WebBinding -Name $site -Protocol 'https' | Where-Object { $_.bindingInformation -eq $information } }
            $binding = & $find
            $previous = ''
            if (-not $binding) {
                $new = @{ Name = $site; Protocol = 'https'; Port = [int]$port; IPAddress = $address }
                if ($hostName) { $new.HostHeader = $hostName; $new.SslFlags = 1 }
                New-WebBinding @new
                $binding = & $find
            } else {
                $previous = ([string]$binding.certificateHash).ToUpperInvariant()
            }
            if ($null -eq $first) { $first = $previous }
            if ($previous -eq $Thumbprint) { continue }
            if ($previous) {
                # In place, in http.sys: SNI bindings by host name, the others by address ('*' is 0.0.0.0).
                if ($hostName -and ([int]$binding.sslFlags -band 1)) { $key = 'hostnameport=' + $hostName + ':' + $port }
                elseif ($address -eq '*') { $key = 'ipport=0.0.0.0:' + $port }
                else { $key = 'ipport=' + $address + ':' + $port }
                $appId = '{4dc3e181-e14b-4a21-b022-59fc669b0914}'
                foreach ($line in @(netsh http show sslcert $key)) { if ([string]$line -match 'Application ID\s*:\s*(\{[0-9A-Fa-f-]+\})') { $appId = $Matches[1] } }
                $output = netsh http update sslcert $key ('certhash=' + $Thumbprint) ('appid=' + $appId) 'certstorename=MY'
                if ($LASTEXITCODE -ne 0) { throw ('exch-cert: netsh could not put ' + $Thumbprint + ' on ' + $site + ' ' + $information + ' (it still has ' + $previous + '): ' + ((@($output) | Where-Object { $_ }) -join ' ')) }
            } else {
                $binding.AddSslCertificate($Thumbprint, 'My')
            }
            $after = ([string](& $find).certificateHash).ToUpperInvariant()
            if ($after -ne $Thumbprint) { throw ('exch-cert: ' + $site + ' ' + $information + ' uses ' + $after + ' after binding ' + $Thumbprint) }
            Write-Host ('exch-cert: ' + $site + ' ' + $information + ' now serves ' + $Thumbprint + $(if ($previous) { ' (was ' + $previous + ')' } else { '' }))
            $changed = $true
        }
        @{ Previous = [string]$first; Changed = $changed }
    }
    if (-not $result.Changed) { Set-ExchCertUnchanged }
    Set-ExchCertOutput -Name 'previousThumbprint' -Value ([string]$result.Previous)
    Set-ExchCertOutput -Name 'changed' -Value ([bool]$result.Changed)
}

# [10/37] pop-only: Set the POP certificate name to mail.contoso.com
Invoke-ExchCertStep -Id 'pop-only' -Exchange -Body {
    $name = 'mail.contoso.com'
    $changed = $false
    if ([string](Get-PopSettings -Server 'exch01.contoso.com' -ErrorAction 'Stop').X509CertificateName -ne $name) {
        Set-PopSettings -Server 'exch01.contoso.com' -X509CertificateName $name -ErrorAction 'Stop'
        if ([string](Get-PopSettings -Server 'exch01.contoso.com' -ErrorAction 'Stop').X509CertificateName -ne $name) { throw ('exch-cert: Set-PopSettings reported no error, but POP still has another X509CertificateName') }
        $changed = $true
    }
    if (-not $changed) { Set-ExchCertUnchanged }
    Set-ExchCertOutput -Name 'changed' -Value $changed
}

# [11/37] restart: Restart MSExchangePop3, MSExchangePOP3BE
#   known at run time: steps.preflight.outputs.runningServices
#   exch-cert: timeout 90s; 2 retries, 15s apart
Invoke-ExchCertStep -Id 'restart' -Body {
    $restarted = @(Invoke-ExchCertHost -Server 'exch01.contoso.com' -ArgumentList @(@('MSExchangePop3','MSExchangePOP3BE'), $true, (Get-ExchCertOutput -Step 'preflight' -Name 'runningServices'), 60) -ScriptBlock {
        param($Names, $IncludeStopped, $MustRun, $WaitSeconds)
        $ErrorActionPreference = 'Stop'
        foreach ($name in $Names) {
            $service = Get-Service -Name $name
            if ([string]$service.Status -ne 'Running' -and -not $IncludeStopped -and @($MustRun) -notcontains $name) {
                Write-Host ('exch-cert: ' + $name + ' is ' + $service.Status + '; left as it is')
                continue
            }
            Write-Host ('exch-cert: restarting ' + $name)
            Restart-Service -Name $name -Force
            (Get-Service -Name $name).WaitForStatus('Running', [TimeSpan]::FromSeconds($WaitSeconds))
            $name
        }
    })
    if ($restarted.Count -eq 0) { Set-ExchCertUnchanged }
    Set-ExchCertOutput -Name 'restarted' -Value $restarted
}

# [12/37] bind-moved: Bind <preflight.bindings> to certificate <import.thumbprint>
#   known at run time: steps.preflight.outputs.bindings, steps.import.outputs.thumbprint, steps.preflight.outputs.renew, steps.enable.outputs.changed
Invoke-ExchCertStep -Id 'bind-moved' -When { (Test-ExchCertOutput -Step 'preflight' -Name 'renew') -or (Test-ExchCertOutput -Step 'enable' -Name 'changed') } -Body {
    $result = Invoke-ExchCertHost -Server 'exch01.contoso.com' -ArgumentList @((Get-ExchCertOutput -Step 'preflight' -Name 'bindings'), (Get-ExchCertOutput -Step 'import' -Name 'thumbprint')) -ScriptBlock {
        param($Targets, $Thumbprint)
        $ErrorActionPreference = 'Stop'
        if (-not (Get-Command -Name 'Get-WebBinding' -ErrorAction SilentlyContinue)) { Import-Module WebAdministration }
        $Thumbprint = ([string]$Thumbprint).ToUpperInvariant()
        $first = $null
        $changed = $false
        foreach ($target in @($Targets)) {
            $site, $information = ([string]$target).Split('|', 2)
            $address, $port, $hostName = $information.Split(':', 3)
            $find = { Get-WebBinding -Name $site -Protocol 'https' | Where-Object { $_.bindingInformation -eq $information } }
            $binding = & $find
            $previous = ''
            if (-not $binding) {
                $new = @{ Name = $site; Protocol = 'https'; Port = [int]$port; IPAddress = $address }
                if ($hostName) { $new.HostHeader = $hostName; $new.SslFlags = 1 }
                New-WebBinding @new
                $binding = & $find
            } else {
                $previous = ([string]$binding.certificateHash).ToUpperInvariant()
            }
            if ($null -eq $first) { $first = $previous }
            if ($previous -eq $Thumbprint) { continue }
            if ($previous) {
                # In place, in http.sys: SNI bindings by host name, the others by address ('*' is 0.0.0.0).
                if ($hostName -and ([int]$binding.sslFlags -band 1)) { $key = 'hostnameport=' + $hostName + ':' + $port }
                elseif ($address -eq '*') { $key = 'ipport=0.0.0.0:' + $port }
                else { $key = 'ipport=' + $address + ':' + $port }
                $appId = '{4dc3e181-e14b-4a21-b022-59fc669b0914}'
                foreach ($line in @(netsh http show sslcert $key)) { if ([string]$line -match 'Application ID\s*:\s*(\{[0-9A-Fa-f-]+\})') { $appId = $Matches[1] } }
                $output = netsh http update sslcert $key ('certhash=' + $Thumbprint) ('appid=' + $appId) 'certstorename=MY'
                if ($LASTEXITCODE -ne 0) { throw ('exch-cert: netsh could not put ' + $Thumbprint + ' on ' + $site + ' ' + $information + ' (it still has ' + $previous + '): ' + ((@($output) | Where-Object { $_ }) -join ' ')) }
            } else {
                $binding.AddSslCertificate($Thumbprint, 'My')
            }
            $after = ([string](& $find).certificateHash).ToUpperInvariant()
            if ($after -ne $Thumbprint) { throw ('exch-cert: ' + $site + ' ' + $information + ' uses ' + $after + ' after binding ' + $Thumbprint) }
            Write-Host ('exch-cert: ' + $site + ' ' + $information + ' now serves ' + $Thumbprint + $(if ($previous) { ' (was ' + $previous + ')' } else { '' }))
            $changed = $true
        }
        @{ Previous = [string]$first; Changed = $changed }
    }
    if (-not $result.Changed) { Set-ExchCertUnchanged }
    Set-ExchCertOutput -Name 'previousThumbprint' -Value ([string]$result.Previous)
    Set-ExchCertOutput -Name 'changed' -Value ([bool]$result.Changed)
}

# [13/37] transport: Make <preflight.internalTransport> the internal transport certificate
#   known at run time: steps.preflight.outputs.internalTransport, steps.preflight.outputs.createInternalTransport
Invoke-ExchCertStep -Id 'transport' -Exchange -Body {
    $wanted = ([string](Get-ExchCertOutput -Step 'preflight' -Name 'internalTransport')).ToUpperInvariant()
    $create = [bool](Get-ExchCertOutput -Step 'preflight' -Name 'createInternalTransport')
    if (-not $create -and -not $wanted) { throw 'exch-cert: no certificate given for the internal transport' }
    if (-not $create -and ([string](Get-TransportService -Identity 'exch01' -ErrorAction 'Stop').InternalTransportCertificateThumbprint).ToUpperInvariant() -eq $wanted) {
        Write-Host ('exch-cert: ' + $wanted + ' already is the internal transport certificate')
        Set-ExchCertUnchanged
    } else {
        if ($create) {
            $made = New-ExchangeCertificate -Server 'exch01.contoso.com' -Services 'SMTP' -Force -ErrorAction 'Stop'
            $wanted = ([string]$made.Thumbprint).ToUpperInvariant()
            Write-Host ('exch-cert: created the Exchange self-signed certificate ' + $wanted + ' for SMTP')
        } else {
            Enable-ExchangeCertificate -Server 'exch01.contoso.com' -Thumbprint $wanted -Services @('SMTP') -Force -ErrorAction 'Stop'
        }
        if (([string](Get-TransportService -Identity 'exch01' -ErrorAction 'Stop').InternalTransportCertificateThumbprint).ToUpperInvariant() -ne $wanted) { throw ('exch-cert: ' + $wanted + ' did not become the internal transport certificate') }
        Write-Host ('exch-cert: the internal transport certificate is now ' + $wanted)
    }
    Set-ExchCertOutput -Name 'thumbprint' -Value $wanted
    Set-ExchCertOutput -Name 'changed' -Value ($global:ExchCert.Current.Status -eq 'changed')
}

# [14/37] connectors: Make the connectors <preflight.connectors> name certificate <import.thumbprint>
#   known at run time: steps.preflight.outputs.connectors, steps.import.outputs.thumbprint
Invoke-ExchCertStep -Id 'connectors' -Exchange -Body {
    $certificate = Find-ExchCertCertificate -Server 'exch01.contoso.com' -Thumbprint (Get-ExchCertOutput -Step 'import' -Name 'thumbprint')
    if (-not $certificate) { throw ('exch-cert: certificate ' + (Get-ExchCertOutput -Step 'import' -Name 'thumbprint') + ' is not in the store of ' + 'exch01.contoso.com') }
    $name = '<I>' + [string]$certificate.Issuer + '<S>' + [string]$certificate.Subject
    $changed = $false
    foreach ($entry in @((Get-ExchCertOutput -Step 'preflight' -Name 'connectors'))) {
        $kind, $identity = ([string]$entry).Split('|', 2)
        if ($kind -eq 'send') {
            if ([string](Get-SendConnector -Identity $identity -ErrorAction 'Stop').TlsCertificateName -eq $name) { continue }
            Set-SendConnector -Identity $identity -TlsCertificateName $name -ErrorAction 'Stop'
            $after = [string](Get-SendConnector -Identity $identity -ErrorAction 'Stop').TlsCertificateName
        } else {
            if ([string](Get-ReceiveConnector -Identity $identity -ErrorAction 'Stop').TlsCertificateName -eq $name) { continue }
            Set-ReceiveConnector -Identity $identity -TlsCertificateName $name -ErrorAction 'Stop'
            $after = [string](Get-ReceiveConnector -Identity $identity -ErrorAction 'Stop').TlsCertificateName
        }
        if ($after -ne $name) { throw ('exch-cert: ' + $kind + ' connector ' + $identity + ' still names ' + $after) }
        Write-Host ('exch-cert: ' + $kind + ' connector ' + $identity + ' now names ' + $name)
        $changed = $true
    }
    if (-not $changed) { Set-ExchCertUnchanged }
    Set-ExchCertOutput -Name 'changed' -Value $changed
    if ($changed) { Write-Warning 'exch-cert: connectors changed; in a hybrid organisation, run the Hybrid Configuration Wizard again' }
}

# [15/37] probe: Record which certificate each endpoint of exch01.contoso.com serves now, from here
#   exch-cert runs this itself, from the machine it runs on (where clients connect from), not in PowerShell:
#   a TLS handshake with each endpoint, SNI mail.contoso.com, records the certificate it serves:
#     mail.contoso.com:443/tls (must serve the new certificate whatever it served before)
#     exch01.contoso.com:443/tls
#     exch01.contoso.com:993/tls
#     exch01.contoso.com:995/tls
#     exch01.contoso.com:25/smtp
#     exch01.contoso.com:587/smtp

# [16/37] iis: Restart IIS on exch01.contoso.com
Invoke-ExchCertStep -Id 'iis' -Body {
    try {
        Invoke-ExchCertHost -Server 'exch01.contoso.com' -ArgumentList @() -ScriptBlock {
            param()
            $ErrorActionPreference = 'Stop'
            $output = iisreset
            if ($LASTEXITCODE -ne 0) { throw ('exch-cert: iisreset failed with exit code ' + $LASTEXITCODE + ': ' + (@($output) -join ' ')) }
            Write-Host ('exch-cert: ' + (@($output) -join ' '))
        }
    } finally {
        $global:ExchCert.Reconnect = $true
    }
}

# [17/37] verify: Check from here that mail.contoso.com serves certificate <import.thumbprint>
#   known at run time: steps.import.outputs.thumbprint, steps.find-loopback.outputs.thumbprint, steps.probe.outputs.served
#   exch-cert: 2 retries, 10s apart
#   exch-cert runs this check itself, from the machine it runs on (where clients connect from), not in PowerShell:
#   a TLS handshake with each endpoint, SNI mail.contoso.com, must get certificate <import.thumbprint> valid for that name
#   where it served <find-loopback.thumbprint> before (<probe.served>):
#     mail.contoso.com:443/tls (must serve the new certificate whatever it served before)
#     exch01.contoso.com:443/tls
#     exch01.contoso.com:995/tls
#   by hand: exch-cert verify-tls exch01.contoso.com --servername mail.contoso.com --port 443,993,995,25/smtp,587/smtp --expect THUMBPRINT

try {
# [18/37] health: Check that the required Exchange services run on exch01.contoso.com
#   exch-cert: continues on error
Invoke-ExchCertStep -Id 'health' -ReadOnly -Exchange -Body {
    $problems = @()
    $roles = @(Test-ServiceHealth -Server 'exch01.contoso.com' -ErrorAction 'Stop')
    foreach ($role in $roles) {
        Write-Host ('exch-cert: ' + $role.Role + ': required services running: ' + $role.RequiredServicesRunning)
        if (-not $role.RequiredServicesRunning -or [string]$role.RequiredServicesRunning -eq 'False') {
            $problems += ($role.Role + ': ' + (@($role.ServicesNotRunning) -join ', '))
        }
    }
    if ($roles.Count -eq 0 -and $problems.Count -eq 0) { $problems += ('Test-ServiceHealth returned no server role for ' + 'exch01.contoso.com') }
    if ($problems.Count -gt 0) { throw ('exch-cert: required services are not running: ' + ($problems -join '; ')) }
}
}
catch {
    Write-Warning ('exch-cert: step health failed, continuing (continueOnError): ' + $_.Exception.Message)
}

# [19/37] backup: Back up certificate <find-loopback.thumbprint> to D:\backup\old.pfx
#   known at run time: steps.find-loopback.outputs.thumbprint
Invoke-ExchCertStep -Id 'backup' -ReadOnly -Exchange -Body {
    $thumbprint = ([string](Get-ExchCertOutput -Step 'find-loopback' -Name 'thumbprint')).ToUpperInvariant()
    if (-not (Find-ExchCertCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint)) { throw ('exch-cert: certificate ' + $thumbprint + ' is not in the store of ' + 'exch01.contoso.com' + '; there is nothing to back up') }
    $path = Resolve-ExchCertPath -Path 'D:\backup\old.pfx'
    if ([System.IO.File]::Exists($path)) {
        $verified = $false
        try { $copy = Read-ExchCertPfx -Bytes ([System.IO.File]::ReadAllBytes($path)) -Password $ExchCert.Secrets['backupPassword']; $verified = ($copy.Thumbprint -eq $thumbprint -and $copy.HasPrivateKey) } catch { $verified = $false }
        if (-not $verified) {
            [System.IO.File]::Delete($path)
            throw ('exch-cert: ' + $path + ' was already there but is not a backup of ' + $thumbprint + ' with its private key that this password opens; it was removed')
        }
        Write-Host ('exch-cert: ' + $path + ' already holds a verified backup of ' + $thumbprint)
    } else {
        $directory = [System.IO.Path]::GetDirectoryName($path)
        if ($directory -and -not [System.IO.Directory]::Exists($directory)) { $null = [System.IO.Directory]::CreateDirectory($directory) }
        $export = Export-ExchangeCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint -BinaryEncoded -Password $ExchCert.Secrets['backupPassword'] -ErrorAction 'Stop'
        $partial = $path + '.' + [guid]::NewGuid().ToString('N') + '.partial'
        try {
            Write-ExchCertPrivateFile -Path $partial -Bytes ([byte[]]$export.FileData)
            $verified = $false
            try { $copy = Read-ExchCertPfx -Bytes ([System.IO.File]::ReadAllBytes($partial)) -Password $ExchCert.Secrets['backupPassword']; $verified = ($copy.Thumbprint -eq $thumbprint -and $copy.HasPrivateKey) } catch { $verified = $false }
            if (-not $verified) {
                [System.IO.File]::Delete($partial)
                throw ('exch-cert: ' + $path + ' does not hold certificate ' + $thumbprint + ' with its private key; it was removed')
            }
            try {
                [System.IO.File]::Move($partial, $path)
                Write-Host ('exch-cert: backed up ' + $thumbprint + ' to ' + $path)
            } catch [System.IO.IOException] {
                if (-not [System.IO.File]::Exists($path)) { throw }
                $verified = $false
                try { $copy = Read-ExchCertPfx -Bytes ([System.IO.File]::ReadAllBytes($path)) -Password $ExchCert.Secrets['backupPassword']; $verified = ($copy.Thumbprint -eq $thumbprint -and $copy.HasPrivateKey) } catch { $verified = $false }
                if (-not $verified) {
                    [System.IO.File]::Delete($path)
                    throw ('exch-cert: ' + $path + ' was written meanwhile but is not a backup of ' + $thumbprint + ' with its private key that this password opens; it was removed')
                }
                Write-Host ('exch-cert: ' + $path + ' was written meanwhile and holds a verified backup of ' + $thumbprint)
            }
        } finally {
            if ([System.IO.File]::Exists($partial)) { [System.IO.File]::Delete($partial) }
        }
    }
    Set-ExchCertOutput -Name 'path' -Value $path
}

# [20/37] remove: Remove certificate <find-loopback.thumbprint>
#   known at run time: steps.find-loopback.outputs.thumbprint, steps.backup.outputs.path
#   exch-cert: asks for confirmation (destructive)
Invoke-ExchCertStep -Id 'remove' -Exchange -Body {
    $thumbprint = ([string](Get-ExchCertOutput -Step 'find-loopback' -Name 'thumbprint')).ToUpperInvariant()
    if (-not $thumbprint) { throw 'exch-cert: no thumbprint to remove' }
    if (-not (Find-ExchCertCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint)) {
        Write-Host ('exch-cert: ' + $thumbprint + ' is not in the store; nothing to remove')
        Set-ExchCertUnchanged
        return
    }
    # Never without a backup of this very certificate, with its key, that the password opens.
    $backupPath = Resolve-ExchCertPath -Path (Get-ExchCertOutput -Step 'backup' -Name 'path')
    $backedUp = $false
    try { $copy = Read-ExchCertPfx -Bytes ([System.IO.File]::ReadAllBytes($backupPath)) -Password $ExchCert.Secrets['backupPassword']; $backedUp = ($copy.Thumbprint -eq $thumbprint -and $copy.HasPrivateKey) } catch { $backedUp = $false }
    if (-not $backedUp) { throw ('exch-cert: not removing ' + $thumbprint + ': ' + $backupPath + ' is not a backup of it with its private key that the backup password opens') }
    $inUse = @()
    if ([string](Get-TransportService -Identity 'exch01' -ErrorAction 'Stop').InternalTransportCertificateThumbprint -eq $thumbprint) { $inUse += 'the internal transport certificate (enable another certificate for SMTP first)' }
    $auth = Get-AuthConfig -ErrorAction 'Stop'
    if ([string]$auth.CurrentCertificateThumbprint -eq $thumbprint -or [string]$auth.NextCertificateThumbprint -eq $thumbprint) { $inUse += 'the OAuth (Auth) certificate' }
    $bindings = @(Invoke-ExchCertHost -Server 'exch01.contoso.com' -ArgumentList @(,$thumbprint) -ScriptBlock {
        param($Thumbprint)
        $ErrorActionPreference = 'Stop'
        if (-not (Get-Command -Name 'Get-WebBinding' -ErrorAction SilentlyContinue)) { Import-Module WebAdministration }
        @(Get-WebBinding -Protocol 'https' | Where-Object { [string]$_.certificateHash -eq $Thumbprint } | ForEach-Object { [string]$_.ItemXPath + ' ' + [string]$_.bindingInformation })
    })
    if ($bindings.Count -gt 0) { $inUse += ('bound in IIS: ' + ($bindings -join '; ')) }
    if ($inUse.Count -gt 0) { throw ('exch-cert: not removing ' + $thumbprint + ', it is still in use as ' + ($inUse -join ' and ') + '. Move that use to another certificate first.') }
    Remove-ExchangeCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint -Confirm:$false -ErrorAction 'Stop'
    if (Find-ExchCertCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint) { throw ('exch-cert: Remove-ExchangeCertificate reported no error, but ' + $thumbprint + ' is still in the store') }
    Write-Host ('exch-cert: removed ' + $thumbprint)
}

# [21/37] servers: List the Exchange servers of the organisation of exch01.contoso.com
Invoke-ExchCertStep -Id 'servers' -ReadOnly -Exchange -Body {
    $all = @(Get-ExchangeServer -ErrorAction 'Stop')
    $mailbox = @($all | Where-Object { [string]$_.ServerRole -match 'Mailbox' -and [string]$_.AdminDisplayVersion -match '^Version 15\.' })
    $edge = @($all | Where-Object { [string]$_.ServerRole -match 'Edge' })
    foreach ($each in $all) { Write-Host ('exch-cert: ' + [string]$each.Name + ' ' + [string]$each.ServerRole + ' ' + [string]$each.AdminDisplayVersion + ' ' + [string]$each.Fqdn) }
    Set-ExchCertOutput -Name 'mailbox' -Value @($mailbox | ForEach-Object { [string]$_.Name })
    Set-ExchCertOutput -Name 'mailboxFqdns' -Value @($mailbox | ForEach-Object { [string]$_.Fqdn })
    Set-ExchCertOutput -Name 'edge' -Value @($edge | ForEach-Object { [string]$_.Name })
}

# [22/37] components-before: Record the components of exch01.contoso.com that are not Active
Invoke-ExchCertStep -Id 'components-before' -ReadOnly -Exchange -Body {
    $components = @(Get-ServerComponentState -Identity 'exch01.contoso.com' -ErrorAction 'Stop')
    if ($components.Count -eq 0) { throw ('exch-cert: Get-ServerComponentState returned no component for ' + 'exch01.contoso.com') }
    $allowed = @(@())
    $notActive = @($components | Where-Object { [string]$_.State -ne 'Active' } | ForEach-Object { [string]$_.Component })
    foreach ($component in $components) { if ([string]$component.State -ne 'Active') { Write-Host ('exch-cert: ' + [string]$component.Component + ' is ' + [string]$component.State) } }
    Set-ExchCertOutput -Name 'notActive' -Value $notActive
    Set-ExchCertOutput -Name 'checked' -Value $true
}

# [23/37] drain: Set HubTransport on exch01.contoso.com to Draining (requester Maintenance)
Invoke-ExchCertStep -Id 'drain' -Exchange -Body {
    $component = 'HubTransport'
    $wanted = 'Draining'
    $before = [string](Get-ServerComponentState -Identity 'exch01.contoso.com' -Component $component -ErrorAction 'Stop').State
    Set-ServerComponentState -Identity 'exch01.contoso.com' -Component $component -Requester 'Maintenance' -State $wanted -Confirm:$false -ErrorAction 'Stop'
    $after = [string](Get-ServerComponentState -Identity 'exch01.contoso.com' -Component $component -ErrorAction 'Stop').State
    if ($after -ne $wanted) {
        throw ('exch-cert: Set-ServerComponentState reported no error, but ' + $component + ' on ' + 'exch01.contoso.com' + ' is ' + $after + ', not ' + $wanted + '; another requester holds it (see the LocalStates of Get-ServerComponentState ' + 'exch01.contoso.com' + ' -Component ' + $component + ')')
    }
    Write-Host ('exch-cert: ' + $component + ' was ' + $before + ', is ' + $after)
    if ($before -eq $wanted) { Set-ExchCertUnchanged }
    Set-ExchCertOutput -Name 'previousState' -Value $before
}

# [24/37] redirect: Redirect the messages queued on exch01.contoso.com to exch02.contoso.com
Invoke-ExchCertStep -Id 'redirect' -Exchange -Body {
    $target = Get-ExchangeServer -Identity 'exch02.contoso.com' -ErrorAction 'Stop'
    if ([string]$target.ServerRole -notmatch 'Mailbox') { throw ('exch-cert: ' + 'exch02.contoso.com' + ' is a ' + [string]$target.ServerRole + ' server; messages can only be redirected to a Mailbox server') }
    if ([string]$target.Name -eq ([string]'exch01.contoso.com').Split('.')[0] -or [string]$target.Fqdn -eq 'exch01.contoso.com') { throw ('exch-cert: the messages of ' + 'exch01.contoso.com' + ' cannot be redirected to itself') }
    $transport = [string](Get-ServerComponentState -Identity 'exch02.contoso.com' -Component 'HubTransport' -ErrorAction 'Stop').State
    if ($transport -ne 'Active') { throw ('exch-cert: the transport of ' + [string]$target.Name + ' is ' + $transport + ', not Active: redirect to a server that is in service') }
    Redirect-Message -Server 'exch01.contoso.com' -Target ([string]$target.Fqdn) -Confirm:$false -ErrorAction 'Stop'
    Write-Host ('exch-cert: the messages of ' + 'exch01.contoso.com' + ' go to ' + [string]$target.Fqdn)
    Set-ExchCertOutput -Name 'target' -Value ([string]$target.Fqdn)
}

# [25/37] queues: Wait until the queues of exch01.contoso.com are empty (at most 900 s)
Invoke-ExchCertStep -Id 'queues' -ReadOnly -Exchange -Body {
    $deadline = [DateTime]::UtcNow.AddSeconds(900)
    while ($true) {
        $busy = @(Get-Queue -Server 'exch01.contoso.com' -ErrorAction 'Stop' | Where-Object { [string]$_.Identity -notlike '*\Poison' -and [string]$_.Identity -notlike '*\Shadow\*' -and [int]$_.MessageCount -gt 0 })
        if ($busy.Count -eq 0) { break }
        $left = @($busy | ForEach-Object { [string]$_.Identity + ' (' + [string]$_.Status + '): ' + [string]$_.MessageCount + ' message(s)' }) -join '; '
        if ([DateTime]::UtcNow -ge $deadline) { throw ('exch-cert: the queues of ' + 'exch01.contoso.com' + ' did not empty within ' + 900 + ' s: ' + $left) }
        Write-Host ('exch-cert: waiting for ' + $left)
        Start-Sleep -Seconds 15
    }
    Write-Host ('exch-cert: the queues of ' + 'exch01.contoso.com' + ' are empty')
}

# [26/37] components-after: Check that every component of exch01.contoso.com is Active
#   known at run time: steps.components-before.outputs.notActive
Invoke-ExchCertStep -Id 'components-after' -ReadOnly -Exchange -Body {
    $components = @(Get-ServerComponentState -Identity 'exch01.contoso.com' -ErrorAction 'Stop')
    if ($components.Count -eq 0) { throw ('exch-cert: Get-ServerComponentState returned no component for ' + 'exch01.contoso.com') }
    $allowed = @((Get-ExchCertOutput -Step 'components-before' -Name 'notActive'))
    $notActive = @($components | Where-Object { [string]$_.State -ne 'Active' } | ForEach-Object { [string]$_.Component })
    foreach ($component in $components) { if ([string]$component.State -ne 'Active') { Write-Host ('exch-cert: ' + [string]$component.Component + ' is ' + [string]$component.State) } }
    $unexpected = @($notActive | Where-Object { $allowed -notcontains $_ })
    if ($unexpected.Count -gt 0) { throw ('exch-cert: on ' + 'exch01.contoso.com' + ' these components are not Active: ' + ($unexpected -join ', ') + '. Bring them back with Set-ServerComponentState ' + 'exch01.contoso.com' + ' -Component NAME -Requester Maintenance -State Active') }
    if ($notActive.Count -gt 0) { Write-Host ('exch-cert: left as they were before: ' + ($notActive -join ', ')) } else { Write-Host 'exch-cert: every component is Active' }
    Set-ExchCertOutput -Name 'notActive' -Value $notActive
    Set-ExchCertOutput -Name 'checked' -Value $true
}

# [27/37] edge-old: Find the certificate the Edge Transport server edge01.contoso.com uses for SMTP
Invoke-ExchCertStep -Id 'edge-old' -ReadOnly -Body {
    $found = Invoke-ExchCertHost -Server 'edge01.contoso.com' -ArgumentList @(,'edge01.contoso.com') -ScriptBlock {
        param($Edge)
        $ErrorActionPreference = 'Stop'
        if (-not (Get-Command -Name 'Get-ExchangeCertificate' -ErrorAction SilentlyContinue)) { Add-PSSnapin -Name 'Microsoft.Exchange.Management.PowerShell.SnapIn' }
        $role = [string](Get-ExchangeServer -ErrorAction 'Stop' | Select-Object -First 1).ServerRole
        if ($role -notmatch 'Edge') { throw ('exch-cert: ' + $Edge + ' is a ' + $role + ' server, not an Edge Transport server') }
        $thumbprint = ([string](Get-TransportService -ErrorAction 'Stop' | Select-Object -First 1).InternalTransportCertificateThumbprint).ToUpperInvariant()
        $certificate = @(Get-ExchangeCertificate -ErrorAction 'Stop' | Where-Object { ([string]$_.Thumbprint).ToUpperInvariant() -eq $thumbprint }) | Select-Object -First 1
        if (-not $thumbprint -or -not $certificate) { return @{ Found = $false; Thumbprint = ''; Subject = ''; NotAfter = '' } }
        @{ Found = $true; Thumbprint = $thumbprint; Subject = [string]$certificate.Subject; NotAfter = ([datetime]$certificate.NotAfter).ToUniversalTime().ToString('o') }
    }
    if ($found.Found) { Write-Host ('exch-cert: ' + 'edge01.contoso.com' + ' uses ' + $found.Thumbprint + ' ' + $found.Subject + ' for SMTP, valid until ' + $found.NotAfter) } else { Write-Host 'exch-cert: the Edge has no default SMTP certificate in its store' }
    foreach ($name in @('Found', 'Thumbprint', 'Subject', 'NotAfter')) { Set-ExchCertOutput -Name ($name.Substring(0, 1).ToLowerInvariant() + $name.Substring(1)) -Value $found[$name] }
}

# [28/37] edge-backup: Back up certificate <edge-old.thumbprint> of edge01.contoso.com to D:\backup\edge.pfx
#   known at run time: steps.edge-old.outputs.thumbprint
Invoke-ExchCertStep -Id 'edge-backup' -ReadOnly -Body {
    $thumbprint = ([string](Get-ExchCertOutput -Step 'edge-old' -Name 'thumbprint')).ToUpperInvariant()
    $path = Resolve-ExchCertPath -Path 'D:\backup\edge.pfx'
    if ([System.IO.File]::Exists($path)) {
        $verified = $false
        try { $copy = Read-ExchCertPfx -Bytes ([System.IO.File]::ReadAllBytes($path)) -Password $ExchCert.Secrets['backupPassword']; $verified = ($copy.Thumbprint -eq $thumbprint -and $copy.HasPrivateKey) } catch { $verified = $false }
        if (-not $verified) {
            [System.IO.File]::Delete($path)
            throw ('exch-cert: ' + $path + ' was already there but is not a backup of ' + $thumbprint + ' with its private key that this password opens; it was removed')
        }
        Write-Host ('exch-cert: ' + $path + ' already holds a verified backup of ' + $thumbprint)
    } else {
        $data = Invoke-ExchCertHost -Server 'edge01.contoso.com' -ArgumentList @($thumbprint, $ExchCert.Secrets['backupPassword']) -ScriptBlock {
            param($Thumbprint, $Password)
            $ErrorActionPreference = 'Stop'
            if (-not (Get-Command -Name 'Get-ExchangeCertificate' -ErrorAction SilentlyContinue)) { Add-PSSnapin -Name 'Microsoft.Exchange.Management.PowerShell.SnapIn' }
            if (-not @(Get-ExchangeCertificate -ErrorAction 'Stop' | Where-Object { ([string]$_.Thumbprint).ToUpperInvariant() -eq $Thumbprint })) { throw ('exch-cert: certificate ' + $Thumbprint + ' is not in the store of the Edge; there is nothing to back up') }
            $export = Export-ExchangeCertificate -Thumbprint $Thumbprint -BinaryEncoded -Password $Password -ErrorAction 'Stop'
            [Convert]::ToBase64String([byte[]]$export.FileData)
        }
        $directory = [System.IO.Path]::GetDirectoryName($path)
        if ($directory -and -not [System.IO.Directory]::Exists($directory)) { $null = [System.IO.Directory]::CreateDirectory($directory) }
        Write-ExchCertPrivateFile -Path $path -Bytes ([Convert]::FromBase64String([string]$data))
        $verified = $false
        try { $copy = Read-ExchCertPfx -Bytes ([System.IO.File]::ReadAllBytes($path)) -Password $ExchCert.Secrets['backupPassword']; $verified = ($copy.Thumbprint -eq $thumbprint -and $copy.HasPrivateKey) } catch { $verified = $false }
        if (-not $verified) {
            [System.IO.File]::Delete($path)
            throw ('exch-cert: ' + $path + ' does not hold certificate ' + $thumbprint + ' with its private key; it was removed')
        }
        Write-Host ('exch-cert: backed up ' + $thumbprint + ' to ' + $path)
    }
    Set-ExchCertOutput -Name 'path' -Value $path
}

# [29/37] edge-import: Import the certificate from C:\certs\edge.pfx on edge01.contoso.com
Invoke-ExchCertStep -Id 'edge-import' -Body {
    $bytes = [System.IO.File]::ReadAllBytes((Resolve-ExchCertPath -Path 'C:\certs\edge.pfx'))
    $pfx = Read-ExchCertPfx -Bytes $bytes -Password $ExchCert.Secrets['pfxPassword']
    $thumbprint = $pfx.Thumbprint.ToUpperInvariant()
    $fqdn = 'smtp.contoso.com'
    $san = @($pfx.Extensions | Where-Object { $_.Oid.Value -eq '2.5.29.17' }) | Select-Object -First 1
    $names = @(if ($san) { [regex]::Matches($san.Format($false), '(?:DNS Name=|DNS:)([^,\s]+)') | ForEach-Object { $_.Groups[1].Value } })
    if ($names.Count -eq 0) { $names = @($pfx.GetNameInfo([System.Security.Cryptography.X509Certificates.X509NameType]::DnsName, $false)) }
    $covered = @($names | Where-Object { $_ -eq $fqdn -or ($_.StartsWith('*.') -and $fqdn.Substring($fqdn.IndexOf('.') + 1) -eq $_.Substring(2)) }).Count -gt 0
    if (-not $covered) { throw ('exch-cert: the PFX holds ' + $pfx.Subject + ' for ' + ($names -join ', ') + ', which does not cover ' + $fqdn) }
    Write-Host ('exch-cert: PFX holds ' + $pfx.Subject + ', thumbprint ' + $thumbprint + ', valid until ' + $pfx.NotAfter.ToString('u'))
    $imported = Invoke-ExchCertHost -Server 'edge01.contoso.com' -ArgumentList @($bytes, $ExchCert.Secrets['pfxPassword'], $thumbprint, 'Edge 2026') -ScriptBlock {
        param($Bytes, $Password, $Thumbprint, $FriendlyName)
        $ErrorActionPreference = 'Stop'
        if (-not (Get-Command -Name 'Get-ExchangeCertificate' -ErrorAction SilentlyContinue)) { Add-PSSnapin -Name 'Microsoft.Exchange.Management.PowerShell.SnapIn' }
        $there = { @(Get-ExchangeCertificate -ErrorAction 'Stop' | Where-Object { ([string]$_.Thumbprint).ToUpperInvariant() -eq $Thumbprint }).Count -gt 0 }
        if (& $there) { return $false }
        $null = Import-ExchangeCertificate -FileData ([byte[]]$Bytes) -Password $Password -PrivateKeyExportable $true -FriendlyName $FriendlyName -ErrorAction 'Stop'
        if (-not (& $there)) { throw ('exch-cert: Import-ExchangeCertificate reported no error, but certificate ' + $Thumbprint + ' is not in the store of the Edge') }
        $true
    }
    if (-not $imported) { Write-Host 'exch-cert: the certificate is already in the store of the Edge; not importing it again'; Set-ExchCertUnchanged }
    Set-ExchCertOutput -Name 'thumbprint' -Value $thumbprint
}

# [30/37] edge-enable: Make <edge-import.thumbprint> the SMTP certificate of edge01.contoso.com
#   known at run time: steps.edge-import.outputs.thumbprint
Invoke-ExchCertStep -Id 'edge-enable' -Body {
    $thumbprint = ([string](Get-ExchCertOutput -Step 'edge-import' -Name 'thumbprint')).ToUpperInvariant()
    $changed = Invoke-ExchCertHost -Server 'edge01.contoso.com' -ArgumentList @(,$thumbprint) -ScriptBlock {
        param($Thumbprint)
        $ErrorActionPreference = 'Stop'
        if (-not (Get-Command -Name 'Get-ExchangeCertificate' -ErrorAction SilentlyContinue)) { Add-PSSnapin -Name 'Microsoft.Exchange.Management.PowerShell.SnapIn' }
        $current = { ([string](Get-TransportService -ErrorAction 'Stop' | Select-Object -First 1).InternalTransportCertificateThumbprint).ToUpperInvariant() }
        if ((& $current) -eq $Thumbprint) { return $false }
        if (-not @(Get-ExchangeCertificate -ErrorAction 'Stop' | Where-Object { ([string]$_.Thumbprint).ToUpperInvariant() -eq $Thumbprint })) { throw ('exch-cert: certificate ' + $Thumbprint + ' is not in the store of the Edge') }
        Enable-ExchangeCertificate -Thumbprint $Thumbprint -Services 'SMTP' -Force -ErrorAction 'Stop'
        if ((& $current) -ne $Thumbprint) { throw ('exch-cert: Enable-ExchangeCertificate reported no error, but the Edge still uses ' + (& $current) + ' for SMTP, not ' + $Thumbprint) }
        $true
    }
    if ($changed) { Write-Host ('exch-cert: ' + 'edge01.contoso.com' + ' uses ' + $thumbprint + ' for SMTP now') } else { Write-Host ('exch-cert: ' + 'edge01.contoso.com' + ' already uses ' + $thumbprint + ' for SMTP'); Set-ExchCertUnchanged }
}

# [31/37] edge-file: Create a new Edge subscription file on edge01.contoso.com. Exchange warns: subscribing deletes the accepted domains, message classifications, remote domains and Send connectors made by hand on the Edge (EdgeSync manages them from then on), and the subscription must be completed inside the organization within 120 minutes
#   known at run time: steps.edge-import.outputs.thumbprint
#   exch-cert: asks for confirmation (destructive)
Invoke-ExchCertStep -Id 'edge-file' -Body {
    $minutes = 120
    $wanted = ([string](Get-ExchCertOutput -Step 'edge-import' -Name 'thumbprint')).ToUpperInvariant()
    $createdAt = [DateTime]::UtcNow
    $made = Invoke-ExchCertHost -Server 'edge01.contoso.com' -ArgumentList @('C:\ExchCert\sub.xml', $minutes) -ScriptBlock {
        param($Path, $Minutes)
        $ErrorActionPreference = 'Stop'
        if (-not (Get-Command -Name 'Get-ExchangeCertificate' -ErrorAction SilentlyContinue)) { Add-PSSnapin -Name 'Microsoft.Exchange.Management.PowerShell.SnapIn' }
        $file = [System.IO.Path]::GetFullPath($Path)
        $folder = [System.IO.Path]::GetDirectoryName($file)
        if ($folder -and -not [System.IO.Directory]::Exists($folder)) { $null = [System.IO.Directory]::CreateDirectory($folder) }
        New-EdgeSubscription -FileName $file -AccountExpiryDuration ([TimeSpan]::FromMinutes($Minutes)) -Force -ErrorAction 'Stop'
        $bytes = [System.IO.File]::ReadAllBytes($file)
        $sha = [BitConverter]::ToString([System.Security.Cryptography.SHA256]::Create().ComputeHash($bytes)).Replace('-', '')
        [xml]$xml = [System.Text.Encoding]::UTF8.GetString($bytes).TrimStart([char]0xFEFF)
        $blob = [string]$xml.DocumentElement.EdgeCertificateBlob
        $carried = ''
        if ($blob) { $carried = (New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2 -ArgumentList @(, [Convert]::FromBase64String($blob))).Thumbprint.ToUpperInvariant() }
        $expires = ''
        try { $expires = [DateTime]::Parse([string]$xml.DocumentElement.EffectiveTime, [System.Globalization.CultureInfo]::InvariantCulture, [System.Globalization.DateTimeStyles]::AdjustToUniversal).Add([TimeSpan]::Parse([string]$xml.DocumentElement.Duration, [System.Globalization.CultureInfo]::InvariantCulture)).ToString('o') } catch { $expires = '' }
        @{ Path = $file; Sha256 = $sha; Certificate = $carried; ExpiresAt = $expires }
    }
    if ($made.Certificate -and $made.Certificate -ne $wanted) { throw ('exch-cert: the subscription file carries certificate ' + $made.Certificate + ', not ' + $wanted + ': the Edge does not use the new certificate for SMTP') }
    $expiresAt = $createdAt.AddMinutes($minutes).ToString('o')
    if ($made.ExpiresAt) { $expiresAt = [string]$made.ExpiresAt }
    Write-Host ('exch-cert: ' + $made.Path + ' on the Edge carries ' + $wanted + '; its bootstrap account expires at ' + $expiresAt)
    Set-ExchCertOutput -Name 'path' -Value ([string]$made.Path)
    Set-ExchCertOutput -Name 'createdAt' -Value $createdAt.ToString('o')
    Set-ExchCertOutput -Name 'expiresAt' -Value $expiresAt
    Set-ExchCertOutput -Name 'sha256' -Value ([string]$made.Sha256)
}

# [32/37] edge-subscribe: Subscribe edge01.contoso.com again from its new subscription file
#   known at run time: steps.edge-file.outputs.path, steps.edge-file.outputs.sha256, steps.edge-file.outputs.expiresAt
Invoke-ExchCertStep -Id 'edge-subscribe' -Exchange -Body {
    $edge = 'edge01.contoso.com'
    $expires = [DateTime]::Parse((Get-ExchCertOutput -Step 'edge-file' -Name 'expiresAt'), [System.Globalization.CultureInfo]::InvariantCulture, [System.Globalization.DateTimeStyles]::RoundtripKind).ToUniversalTime()
    if ([DateTime]::UtcNow.AddMinutes(1) -ge $expires) { throw ('exch-cert: the subscription file of ' + $edge + ' came too late: its bootstrap account expires at ' + $expires.ToString('o') + '. Nothing was changed here; run the renewal again (not --resume): it makes a new file') }
    $data = Invoke-ExchCertHost -Server 'edge01.contoso.com' -ArgumentList @(,(Get-ExchCertOutput -Step 'edge-file' -Name 'path')) -ScriptBlock {
        param($File)
        $ErrorActionPreference = 'Stop'
        [Convert]::ToBase64String([System.IO.File]::ReadAllBytes($File))
    }
    $bytes = [Convert]::FromBase64String([string]$data)
    $sha = [BitConverter]::ToString([System.Security.Cryptography.SHA256]::Create().ComputeHash($bytes)).Replace('-', '')
    if ($sha -ne ([string](Get-ExchCertOutput -Step 'edge-file' -Name 'sha256')).ToUpperInvariant()) { throw ('exch-cert: the subscription file on ' + $edge + ' is not the one the Edge step wrote (SHA-256 ' + $sha + ')') }
    $old = @(Get-EdgeSubscription -ErrorAction 'Stop' | Where-Object { ([string]$_.Name) -eq $edge.Split('.')[0] })
    $fromEdge = @(Get-SendConnector -ErrorAction 'Stop' | Where-Object { [string]$_.Name -like 'EdgeSync - *' -and @($_.SourceTransportServers | ForEach-Object { ([string]$_).Split('.')[0] }) -contains $edge.Split('.')[0] })
    $decide = { param($Choice, $Pattern) if ($Choice -eq 'create') { return $true }; if ($Choice -eq 'none') { return $false }; if ($old.Count -eq 0) { return $true }; return (@($fromEdge | Where-Object { [string]$_.Name -like $Pattern }).Count -gt 0) }
    $internet = [bool](& $decide 'none' 'EdgeSync - * to Internet')
    $inbound = [bool](& $decide 'create' 'EdgeSync - Inbound to *')
    $site = 'Default-First-Site-Name'
    Write-Host ('exch-cert: subscribing ' + $edge + ' to ' + $site + '; Internet send connector: ' + $internet + ', inbound send connector: ' + $inbound)
    if ($old.Count -gt 0) { Remove-EdgeSubscription -Identity $edge -Confirm:$false -ErrorAction 'Stop' }
    New-EdgeSubscription -FileData $bytes -Site $site -CreateInternetSendConnector $internet -CreateInboundSendConnector $inbound -Confirm:$false -ErrorAction 'Stop'
    if (-not @(Get-EdgeSubscription -ErrorAction 'Stop' | Where-Object { ([string]$_.Name) -eq $edge.Split('.')[0] })) { throw ('exch-cert: New-EdgeSubscription reported no error, but there is no subscription for ' + $edge) }
    Invoke-ExchCertHost -Server 'edge01.contoso.com' -ArgumentList @(,(Get-ExchCertOutput -Step 'edge-file' -Name 'path')) -ScriptBlock {
        param($File)
        $ErrorActionPreference = 'Stop'
        [System.IO.File]::Delete($File)
    }
    Set-ExchCertOutput -Name 'site' -Value $site
}

# [33/37] edge-sync: Check that EdgeSync with edge01.contoso.com is Normal
Invoke-ExchCertStep -Id 'edge-sync' -ReadOnly -Exchange -Body {
    $reports = @()
    try { $reports = @(Test-EdgeSynchronization -TargetServer 'edge01.contoso.com' -ErrorAction 'Stop') } catch { Write-Host ('exch-cert: Test-EdgeSynchronization: ' + $_.Exception.Message) }
    $status = (@($reports | ForEach-Object { [string]$_.SyncStatus }) | Select-Object -Unique) -join ', '
    $detail = (@($reports | ForEach-Object { [string]$_.FailureDetail } | Where-Object { $_ }) | Select-Object -Unique) -join ' '
    Write-Host ('exch-cert: EdgeSync with ' + 'edge01.contoso.com' + ': ' + $(if ($status) { $status } else { 'no report' }) + $(if ($detail) { ' (' + $detail + ')' } else { '' }))
    Set-ExchCertOutput -Name 'syncStatus' -Value $status
}

# [34/37] edge-remove: Remove certificate <edge-old.thumbprint> from edge01.contoso.com
#   known at run time: steps.edge-old.outputs.thumbprint, steps.edge-import.outputs.thumbprint, steps.edge-backup.outputs.path
#   exch-cert: asks for confirmation (destructive)
Invoke-ExchCertStep -Id 'edge-remove' -Body {
    $thumbprint = ([string](Get-ExchCertOutput -Step 'edge-old' -Name 'thumbprint')).ToUpperInvariant()
    $replacement = ([string](Get-ExchCertOutput -Step 'edge-import' -Name 'thumbprint')).ToUpperInvariant()
    if ($replacement -eq $thumbprint) { Write-Host ('exch-cert: ' + $thumbprint + ' is also the replacement; nothing to remove'); Set-ExchCertUnchanged; return }
    $backup = Resolve-ExchCertPath -Path (Get-ExchCertOutput -Step 'edge-backup' -Name 'path')
    if (-not [System.IO.File]::Exists($backup)) { throw ('exch-cert: not removing ' + $thumbprint + ': its backup ' + $backup + ' is not there') }
    $removed = Invoke-ExchCertHost -Server 'edge01.contoso.com' -ArgumentList @($thumbprint, $replacement) -ScriptBlock {
        param($Thumbprint, $Replacement)
        $ErrorActionPreference = 'Stop'
        if (-not (Get-Command -Name 'Get-ExchangeCertificate' -ErrorAction SilentlyContinue)) { Add-PSSnapin -Name 'Microsoft.Exchange.Management.PowerShell.SnapIn' }
        $store = @(Get-ExchangeCertificate -ErrorAction 'Stop' | ForEach-Object { ([string]$_.Thumbprint).ToUpperInvariant() })
        if ($store -notcontains $Thumbprint) { return $false }
        if ($store -notcontains $Replacement) { throw ('exch-cert: not removing ' + $Thumbprint + ': its replacement ' + $Replacement + ' is not in the store of the Edge') }
        if (([string](Get-TransportService -ErrorAction 'Stop' | Select-Object -First 1).InternalTransportCertificateThumbprint).ToUpperInvariant() -eq $Thumbprint) { throw ('exch-cert: not removing ' + $Thumbprint + ': the Edge still uses it for SMTP') }
        Remove-ExchangeCertificate -Thumbprint $Thumbprint -Confirm:$false -ErrorAction 'Stop'
        if (@(Get-ExchangeCertificate -ErrorAction 'Stop' | Where-Object { ([string]$_.Thumbprint).ToUpperInvariant() -eq $Thumbprint })) { throw ('exch-cert: Remove-ExchangeCertificate reported no error, but ' + $Thumbprint + ' is still in the store of the Edge') }
        $true
    }
    if ($removed) { Write-Host ('exch-cert: removed ' + $thumbprint) } else { Write-Host ('exch-cert: ' + $thumbprint + ' is not in the store of the Edge; nothing to remove'); Set-ExchCertUnchanged }
}

# [35/37] edge-restore: Make <edge-old.thumbprint> the SMTP certificate of edge01.contoso.com again, unless EdgeSync works as it is
#   known at run time: steps.edge-old.outputs.thumbprint
Invoke-ExchCertStep -Id 'edge-restore' -Exchange -Body {
    $thumbprint = ([string](Get-ExchCertOutput -Step 'edge-old' -Name 'thumbprint')).ToUpperInvariant()
    $sync = @()
    try { $sync = @(Test-EdgeSynchronization -TargetServer 'edge01.contoso.com' -ErrorAction 'Stop') } catch { Write-Host ('exch-cert: Test-EdgeSynchronization: ' + $_.Exception.Message) }
    if ($sync.Count -gt 0 -and @($sync | Where-Object { [string]$_.SyncStatus -ne 'Normal' }).Count -eq 0) {
        Write-Host ('exch-cert: EdgeSync with ' + 'edge01.contoso.com' + ' is Normal; its SMTP certificate stays as it is')
        Set-ExchCertUnchanged
        return
    }
    $changed = Invoke-ExchCertHost -Server 'edge01.contoso.com' -ArgumentList @(,$thumbprint) -ScriptBlock {
        param($Thumbprint)
        $ErrorActionPreference = 'Stop'
        if (-not (Get-Command -Name 'Get-ExchangeCertificate' -ErrorAction SilentlyContinue)) { Add-PSSnapin -Name 'Microsoft.Exchange.Management.PowerShell.SnapIn' }
        $current = { ([string](Get-TransportService -ErrorAction 'Stop' | Select-Object -First 1).InternalTransportCertificateThumbprint).ToUpperInvariant() }
        if ((& $current) -eq $Thumbprint) { return $false }
        if (-not @(Get-ExchangeCertificate -ErrorAction 'Stop' | Where-Object { ([string]$_.Thumbprint).ToUpperInvariant() -eq $Thumbprint })) { throw ('exch-cert: certificate ' + $Thumbprint + ' is not in the store of the Edge') }
        Enable-ExchangeCertificate -Thumbprint $Thumbprint -Services 'SMTP' -Force -ErrorAction 'Stop'
        if ((& $current) -ne $Thumbprint) { throw ('exch-cert: Enable-ExchangeCertificate reported no error, but the Edge still uses ' + (& $current) + ' for SMTP, not ' + $Thumbprint) }
        $true
    }
    if ($changed) { Write-Host ('exch-cert: ' + 'edge01.contoso.com' + ' uses ' + $thumbprint + ' for SMTP now') } else { Write-Host ('exch-cert: ' + 'edge01.contoso.com' + ' already uses ' + $thumbprint + ' for SMTP'); Set-ExchCertUnchanged }
}

# [36/37] script-here: Run a custom PowerShell script
#   known at run time: steps.import.outputs.thumbprint
Invoke-ExchCertStep -Id 'script-here' -Body {
$ExchCertArguments = @{ 'count' = 3; 'names' = @('a','b'); 'flag' = $false; 'thumb' = (Get-ExchCertOutput -Step 'import' -Name 'thumbprint') }
$length = @(Get-Queue -Server $ExchCertArguments['thumb']).Count
$note = @'
Queue length
at the time of the renewal
'@
Write-Host ($note + ': ' + $length)
Set-ExchCertOutput -Name 'queueLength' -Value ([string]$length)

}

# [37/37] script-on-host: Run a custom PowerShell script
#   known at run time: steps.find-loopback.outputs.found
Invoke-ExchCertStep -Id 'script-on-host' -When { (Test-ExchCertOutput -Step 'find-loopback' -Name 'found') } -Body {
Invoke-ExchCertHost -Server 'exch01.contoso.com' -ArgumentList @(,@{}) -ScriptBlock {
    param($ExchCertArguments)
    $ErrorActionPreference = 'Stop'
Get-Service -Name W3SVC
}
}
}
catch {
    $exchCertFailure = $_
    Write-Host ('exch-cert: stopped: ' + $exchCertFailure.Exception.Message)
# ---- onFailure steps: run only when a step fails ----
try {
# [onFailure 1/3] rebind-old: Bind Default Web Site *:443 to certificate <find-loopback.thumbprint>
#   known at run time: steps.find-loopback.outputs.thumbprint
Invoke-ExchCertStep -Id 'rebind-old' -Body {
    $result = Invoke-ExchCertHost -Server 'exch01.contoso.com' -ArgumentList @(@(('Default Web Site' + '|' + '*' + ':' + 443 + ':')), (Get-ExchCertOutput -Step 'find-loopback' -Name 'thumbprint')) -ScriptBlock {
        param($Targets, $Thumbprint)
        $ErrorActionPreference = 'Stop'
        if (-not (Get-Command -Name 'Get-WebBinding' -ErrorAction SilentlyContinue)) { Import-Module WebAdministration }
        $Thumbprint = ([string]$Thumbprint).ToUpperInvariant()
        $first = $null
        $changed = $false
        foreach ($target in @($Targets)) {
            $site, $information = ([string]$target).Split('|', 2)
            $address, $port, $hostName = $information.Split(':', 3)
            $find = { Get-WebBinding -Name $site -Protocol 'https' | Where-Object { $_.bindingInformation -eq $information } }
            $binding = & $find
            $previous = ''
            if (-not $binding) {
                $new = @{ Name = $site; Protocol = 'https'; Port = [int]$port; IPAddress = $address }
                if ($hostName) { $new.HostHeader = $hostName; $new.SslFlags = 1 }
                New-WebBinding @new
                $binding = & $find
            } else {
                $previous = ([string]$binding.certificateHash).ToUpperInvariant()
            }
            if ($null -eq $first) { $first = $previous }
            if ($previous -eq $Thumbprint) { continue }
            if ($previous) {
                # In place, in http.sys: SNI bindings by host name, the others by address ('*' is 0.0.0.0).
                if ($hostName -and ([int]$binding.sslFlags -band 1)) { $key = 'hostnameport=' + $hostName + ':' + $port }
                elseif ($address -eq '*') { $key = 'ipport=0.0.0.0:' + $port }
                else { $key = 'ipport=' + $address + ':' + $port }
                $appId = '{4dc3e181-e14b-4a21-b022-59fc669b0914}'
                foreach ($line in @(netsh http show sslcert $key)) { if ([string]$line -match 'Application ID\s*:\s*(\{[0-9A-Fa-f-]+\})') { $appId = $Matches[1] } }
                $output = netsh http update sslcert $key ('certhash=' + $Thumbprint) ('appid=' + $appId) 'certstorename=MY'
                if ($LASTEXITCODE -ne 0) { throw ('exch-cert: netsh could not put ' + $Thumbprint + ' on ' + $site + ' ' + $information + ' (it still has ' + $previous + '): ' + ((@($output) | Where-Object { $_ }) -join ' ')) }
            } else {
                $binding.AddSslCertificate($Thumbprint, 'My')
            }
            $after = ([string](& $find).certificateHash).ToUpperInvariant()
            if ($after -ne $Thumbprint) { throw ('exch-cert: ' + $site + ' ' + $information + ' uses ' + $after + ' after binding ' + $Thumbprint) }
            Write-Host ('exch-cert: ' + $site + ' ' + $information + ' now serves ' + $Thumbprint + $(if ($previous) { ' (was ' + $previous + ')' } else { '' }))
            $changed = $true
        }
        @{ Previous = [string]$first; Changed = $changed }
    }
    if (-not $result.Changed) { Set-ExchCertUnchanged }
    Set-ExchCertOutput -Name 'previousThumbprint' -Value ([string]$result.Previous)
    Set-ExchCertOutput -Name 'changed' -Value ([bool]$result.Changed)
}
}
catch {
    Write-Warning ('exch-cert: onFailure step rebind-old failed: ' + $_.Exception.Message)
}

try {
# [onFailure 2/3] rollback-iis: Restart IIS on exch01.contoso.com (iisreset /noforce)
Invoke-ExchCertStep -Id 'rollback-iis' -Body {
    try {
        Invoke-ExchCertHost -Server 'exch01.contoso.com' -ArgumentList @() -ScriptBlock {
            param()
            $ErrorActionPreference = 'Stop'
            $output = iisreset /noforce
            if ($LASTEXITCODE -ne 0) { throw ('exch-cert: iisreset failed with exit code ' + $LASTEXITCODE + ': ' + (@($output) -join ' ')) }
            Write-Host ('exch-cert: ' + (@($output) -join ' '))
        }
    } finally {
        $global:ExchCert.Reconnect = $true
    }
}
}
catch {
    Write-Warning ('exch-cert: onFailure step rollback-iis failed: ' + $_.Exception.Message)
}

try {
# [onFailure 3/3] start-stopped: Start <preflight.runningServices> where stopped
#   known at run time: steps.preflight.outputs.runningServices
Invoke-ExchCertStep -Id 'start-stopped' -Body {
    $started = @(Invoke-ExchCertHost -Server 'exch01.contoso.com' -ArgumentList @((Get-ExchCertOutput -Step 'preflight' -Name 'runningServices'), 120) -ScriptBlock {
        param($Names, $WaitSeconds)
        $ErrorActionPreference = 'Stop'
        foreach ($name in @($Names)) {
            $service = Get-Service -Name $name
            if ([string]$service.Status -eq 'Running') { continue }
            Write-Host ('exch-cert: starting ' + $name + ', which is ' + $service.Status)
            Start-Service -Name $name
            (Get-Service -Name $name).WaitForStatus('Running', [TimeSpan]::FromSeconds($WaitSeconds))
            $name
        }
    })
    if ($started.Count -eq 0) { Set-ExchCertUnchanged }
    Set-ExchCertOutput -Name 'started' -Value $started
}
}
catch {
    Write-Warning ('exch-cert: onFailure step start-stopped failed: ' + $_.Exception.Message)
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
