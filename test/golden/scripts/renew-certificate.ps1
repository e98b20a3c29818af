# exch-cert 0.0.0-test plan for runbook renew-certificate (test.yaml)
# Renew the TLS certificate of an Exchange Mailbox (Client Access) server. A read-only preflight finds every use of the old certificate and decides, before anything changes, how the new one takes each over, or refuses. The old certificate is backed up and verified first; then the new one is imported, enabled, put on every binding the old one served (in place, never without a certificate), the restarts it needs run, and service health is checked. Only then is the old certificate removed, and only from its verified backup's say-so: either the renewal refuses before the first change, or the new certificate serves everywhere the old one did.
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
#   server                               = 'EXCH01'
#   pfxPath                              = 'C:\certs\mail-2026.pfx'
#   pfxPassword                          = secret, read at run time from $env:EXCH_CERT_PFX_PASSWORD
#   fqdn                                 = 'mail.contoso.com'
#   friendlyName                         = (not set)
#   services                             = @('IIS','SMTP','POP','IMAP') (default)
#   backupDirectory                      = 'C:\ExchCertBackup' (default)
#   backupPassword                       = secret, read at run time from $env:EXCH_CERT_BACKUP_PASSWORD
#   allowDroppedServices                 = $false (default)
#   newCertificateTakesInternalTransport = $false (default)
#   verifyTls                            = $true (default)
#   restartMailboxAssistants             = $false (default)
#   restartInformationStore              = $false (default)
# Known only at run time (the script reads them with Get-ExchCertOutput):
#   steps.preflight.outputs.oldThumbprint
#   steps.preflight.outputs.remove
#   steps.preflight.outputs.renew
#   steps.import.outputs.thumbprint
#   steps.preflight.outputs.bindings
#   steps.preflight.outputs.internalTransport
#   steps.preflight.outputs.createInternalTransport
#   steps.preflight.outputs.moveInternalTransport
#   steps.preflight.outputs.connectors
#   steps.preflight.outputs.updateConnectors
#   steps.preflight.outputs.runningServices
#   steps.enable.outputs.changed
#   steps.pop-imap-name.outputs.changed
#   steps.internal-transport.outputs.changed
#   steps.connectors.outputs.changed
#   steps.bind.outputs.changed
#   steps.preflight.outputs.newThumbprint
#   steps.probe.outputs.served
#   steps.backup-old.outputs.path
#   steps.preflight.outputs.rollbackBindings
#   steps.rebind-old.outputs.changed

# ---- prologue: settings, helpers, secrets, connection ----
if ($PSVersionTable.PSVersion.Major -lt 5) { throw ('exch-cert: this needs Windows PowerShell 5.1 or PowerShell 7; this is PowerShell ' + $PSVersionTable.PSVersion + '. Exchange 2016 on Windows Server 2012 R2 needs WMF 5.1.') }
$global:ErrorActionPreference = 'Stop'
$ErrorActionPreference = 'Stop'
$global:ProgressPreference = 'SilentlyContinue'
$global:ExchCert = @{ Server = 'EXCH01'; HostMode = 'session'; ExchangeCommands = @('Enable-ExchangeCertificate','Export-ExchangeCertificate','Get-AuthConfig','Get-ExchangeCertificate','Get-ImapSettings','Get-PopSettings','Get-ReceiveConnector','Get-SendConnector','Get-TransportService','Import-ExchangeCertificate','New-ExchangeCertificate','Remove-ExchangeCertificate','Set-ImapSettings','Set-PopSettings','Set-ReceiveConnector','Set-SendConnector','Test-ServiceHealth'); Session = $null; ExchangeModule = $null; HostSessions = @{}; HostCredentials = @{}; Credential = $null; Reconnect = $false; Outputs = @{}; Secrets = @{}; Current = $null }

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

$global:ExchCert.Secrets['pfxPassword'] = Read-ExchCertSecret -Name 'pfxPassword' -Variable 'EXCH_CERT_PFX_PASSWORD'
$global:ExchCert.Secrets['backupPassword'] = Read-ExchCertSecret -Name 'backupPassword' -Variable 'EXCH_CERT_BACKUP_PASSWORD'

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
# [1/17] preflight: Find every use of the old certificate and decide how the new one takes it over (changes nothing)
#   exch-cert: timeout 5m
Invoke-ExchCertStep -Id 'preflight' -ReadOnly -Exchange -Body {
    $server = 'EXCH01'
    $requested = @('IIS','SMTP','POP','IMAP')
    $allowDropped = $false
    $newTakesTransport = $false
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
    $pfx = Read-ExchCertPfx -Bytes ([System.IO.File]::ReadAllBytes((Resolve-ExchCertPath -Path 'C:\certs\mail-2026.pfx'))) -Password $ExchCert.Secrets['pfxPassword']
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
    $internal = ([string](Get-TransportService -Identity 'EXCH01' -ErrorAction 'Stop').InternalTransportCertificateThumbprint).ToUpperInvariant()
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

# [2/17] probe: Record which certificate each endpoint serves now, from where clients connect
#   exch-cert: timeout 2m
#   exch-cert runs this itself, from the machine it runs on (where clients connect from), not in PowerShell:
#   a TLS handshake with each endpoint, SNI mail.contoso.com, records the certificate it serves:
#     mail.contoso.com:443/tls (must serve the new certificate whatever it served before)
#     EXCH01:443/tls
#     EXCH01:993/tls
#     EXCH01:995/tls
#     EXCH01:25/smtp
#     EXCH01:587/smtp

# [3/17] backup-old: Back up the old certificate with its private key, before the first change
#   known at run time: steps.preflight.outputs.oldThumbprint, steps.preflight.outputs.remove
#   exch-cert: timeout 5m
Invoke-ExchCertStep -Id 'backup-old' -ReadOnly -Exchange -When { (Test-ExchCertOutput -Step 'preflight' -Name 'remove') } -Body {
    $thumbprint = ([string](Get-ExchCertOutput -Step 'preflight' -Name 'oldThumbprint')).ToUpperInvariant()
    if (-not (Find-ExchCertCertificate -Server 'EXCH01' -Thumbprint $thumbprint)) { throw ('exch-cert: certificate ' + $thumbprint + ' is not in the store of ' + 'EXCH01' + '; there is nothing to back up') }
    $path = Resolve-ExchCertPath -Path (-join @('C:\ExchCertBackup\', [string](Get-ExchCertOutput -Step 'preflight' -Name 'oldThumbprint'), '.pfx'))
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
        $export = Export-ExchangeCertificate -Server 'EXCH01' -Thumbprint $thumbprint -BinaryEncoded -Password $ExchCert.Secrets['backupPassword'] -ErrorAction 'Stop'
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

# [4/17] import: Import the renewed certificate
#   known at run time: steps.preflight.outputs.renew
#   exch-cert: timeout 5m
Invoke-ExchCertStep -Id 'import' -Exchange -When { (Test-ExchCertOutput -Step 'preflight' -Name 'renew') } -Body {
    $bytes = [System.IO.File]::ReadAllBytes((Resolve-ExchCertPath -Path 'C:\certs\mail-2026.pfx'))
    $pfx = Read-ExchCertPfx -Bytes $bytes -Password $ExchCert.Secrets['pfxPassword']
    $thumbprint = $pfx.Thumbprint.ToUpperInvariant()
    Write-Host ('exch-cert: PFX holds ' + $pfx.Subject + ', thumbprint ' + $thumbprint + ', valid until ' + $pfx.NotAfter.ToString('u'))
    if (Find-ExchCertCertificate -Server 'EXCH01' -Thumbprint $thumbprint) {
        Write-Host 'exch-cert: the certificate is already in the store; not importing it again'
        Set-ExchCertUnchanged
    } else {
        $null = Import-ExchangeCertificate -Server 'EXCH01' -FileData $bytes -Password $ExchCert.Secrets['pfxPassword'] -PrivateKeyExportable $true -ErrorAction 'Stop'
        if (-not (Find-ExchCertCertificate -Server 'EXCH01' -Thumbprint $thumbprint)) {
            throw ('exch-cert: Import-ExchangeCertificate reported no error, but certificate ' + $thumbprint + ' is not in the store of ' + 'EXCH01')
        }
    }
    Set-ExchCertOutput -Name 'thumbprint' -Value $thumbprint
}

# [5/17] enable: Enable the certificate for IIS, SMTP, POP, IMAP
#   known at run time: steps.import.outputs.thumbprint, steps.preflight.outputs.renew
#   exch-cert: timeout 5m
Invoke-ExchCertStep -Id 'enable' -Exchange -When { (Test-ExchCertOutput -Step 'preflight' -Name 'renew') } -Body {
    $thumbprint = (Get-ExchCertOutput -Step 'import' -Name 'thumbprint')
    $certificate = Find-ExchCertCertificate -Server 'EXCH01' -Thumbprint $thumbprint
    if (-not $certificate) { throw ('exch-cert: certificate ' + $thumbprint + ' is not in the store of ' + 'EXCH01') }
    $services = @('IIS','SMTP','POP','IMAP')
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
        $internalBefore = [string](Get-TransportService -Identity 'EXCH01' -ErrorAction 'Stop').InternalTransportCertificateThumbprint
        $enableError = $null
        try {
            Enable-ExchangeCertificate -Server 'EXCH01' -Thumbprint $thumbprint -Services $services -DoNotRequireSsl -Force -ErrorAction 'Stop'
        } catch {
            $enableError = $_
        }
        # -Force makes this certificate the internal transport certificate. The property is read-only;
        # enabling the previous certificate for SMTP with -Force is how it goes back. Also when Enable
        # failed half-way.
        if ($internalBefore -and [string](Get-TransportService -Identity 'EXCH01' -ErrorAction 'Stop').InternalTransportCertificateThumbprint -ne $internalBefore) {
            Enable-ExchangeCertificate -Server 'EXCH01' -Thumbprint $internalBefore -Services @('SMTP') -Force -ErrorAction 'Stop'
            if ([string](Get-TransportService -Identity 'EXCH01' -ErrorAction 'Stop').InternalTransportCertificateThumbprint -ne $internalBefore) { throw ('exch-cert: could not keep ' + $internalBefore + ' as the internal transport certificate') }
            Write-Host ('exch-cert: internal transport certificate kept at ' + $internalBefore)
        }
        if ($enableError) { throw $enableError }
        $now = @(([string](Find-ExchCertCertificate -Server 'EXCH01' -Thumbprint $thumbprint).Services) -split ',\s*' | Where-Object { $_ })
        $still = @($services | Where-Object { $now -notcontains $_ })
        if ($still.Count -gt 0) { throw ('exch-cert: Enable-ExchangeCertificate reported no error, but ' + $thumbprint + ' is still not enabled for ' + ($still -join ', ')) }
    }
    Set-ExchCertOutput -Name 'services' -Value $services
}

# [6/17] bind: Put the new certificate on every binding the old one served
#   known at run time: steps.preflight.outputs.bindings, steps.import.outputs.thumbprint, steps.preflight.outputs.renew
#   exch-cert: timeout 5m
Invoke-ExchCertStep -Id 'bind' -When { (Test-ExchCertOutput -Step 'preflight' -Name 'renew') } -Body {
    $result = Invoke-ExchCertHost -Server 'EXCH01' -ArgumentList @((Get-ExchCertOutput -Step 'preflight' -Name 'bindings'), (Get-ExchCertOutput -Step 'import' -Name 'thumbprint')) -ScriptBlock {
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

# [7/17] internal-transport: Move the internal transport certificate off the old certificate
#   known at run time: steps.preflight.outputs.internalTransport, steps.preflight.outputs.createInternalTransport, steps.preflight.outputs.moveInternalTransport
#   exch-cert: timeout 5m
Invoke-ExchCertStep -Id 'internal-transport' -Exchange -When { (Test-ExchCertOutput -Step 'preflight' -Name 'moveInternalTransport') } -Body {
    $wanted = ([string](Get-ExchCertOutput -Step 'preflight' -Name 'internalTransport')).ToUpperInvariant()
    $create = [bool](Get-ExchCertOutput -Step 'preflight' -Name 'createInternalTransport')
    if (-not $create -and -not $wanted) { throw 'exch-cert: no certificate given for the internal transport' }
    if (-not $create -and ([string](Get-TransportService -Identity 'EXCH01' -ErrorAction 'Stop').InternalTransportCertificateThumbprint).ToUpperInvariant() -eq $wanted) {
        Write-Host ('exch-cert: ' + $wanted + ' already is the internal transport certificate')
        Set-ExchCertUnchanged
    } else {
        if ($create) {
            $made = New-ExchangeCertificate -Server 'EXCH01' -Services 'SMTP' -Force -ErrorAction 'Stop'
            $wanted = ([string]$made.Thumbprint).ToUpperInvariant()
            Write-Host ('exch-cert: created the Exchange self-signed certificate ' + $wanted + ' for SMTP')
        } else {
            Enable-ExchangeCertificate -Server 'EXCH01' -Thumbprint $wanted -Services @('SMTP') -Force -ErrorAction 'Stop'
        }
        if (([string](Get-TransportService -Identity 'EXCH01' -ErrorAction 'Stop').InternalTransportCertificateThumbprint).ToUpperInvariant() -ne $wanted) { throw ('exch-cert: ' + $wanted + ' did not become the internal transport certificate') }
        Write-Host ('exch-cert: the internal transport certificate is now ' + $wanted)
    }
    Set-ExchCertOutput -Name 'thumbprint' -Value $wanted
    Set-ExchCertOutput -Name 'changed' -Value ($global:ExchCert.Current.Status -eq 'changed')
}

# [8/17] connectors: Make the connectors that named the old certificate name the new one
#   known at run time: steps.preflight.outputs.connectors, steps.import.outputs.thumbprint, steps.preflight.outputs.updateConnectors
#   exch-cert: timeout 5m
Invoke-ExchCertStep -Id 'connectors' -Exchange -When { (Test-ExchCertOutput -Step 'preflight' -Name 'updateConnectors') } -Body {
    $certificate = Find-ExchCertCertificate -Server 'EXCH01' -Thumbprint (Get-ExchCertOutput -Step 'import' -Name 'thumbprint')
    if (-not $certificate) { throw ('exch-cert: certificate ' + (Get-ExchCertOutput -Step 'import' -Name 'thumbprint') + ' is not in the store of ' + 'EXCH01') }
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

# [9/17] pop-imap-name: Point POP and IMAP at the certificate for the FQDN
#   known at run time: steps.preflight.outputs.renew
#   exch-cert: timeout 5m
Invoke-ExchCertStep -Id 'pop-imap-name' -Exchange -When { (Test-ExchCertOutput -Step 'preflight' -Name 'renew') } -Body {
    $name = 'mail.contoso.com'
    $changed = $false
    if ([string](Get-PopSettings -Server 'EXCH01' -ErrorAction 'Stop').X509CertificateName -ne $name) {
        Set-PopSettings -Server 'EXCH01' -X509CertificateName $name -ErrorAction 'Stop'
        if ([string](Get-PopSettings -Server 'EXCH01' -ErrorAction 'Stop').X509CertificateName -ne $name) { throw ('exch-cert: Set-PopSettings reported no error, but POP still has another X509CertificateName') }
        $changed = $true
    }
    if ([string](Get-ImapSettings -Server 'EXCH01' -ErrorAction 'Stop').X509CertificateName -ne $name) {
        Set-ImapSettings -Server 'EXCH01' -X509CertificateName $name -ErrorAction 'Stop'
        if ([string](Get-ImapSettings -Server 'EXCH01' -ErrorAction 'Stop').X509CertificateName -ne $name) { throw ('exch-cert: Set-ImapSettings reported no error, but IMAP still has another X509CertificateName') }
        $changed = $true
    }
    if (-not $changed) { Set-ExchCertUnchanged }
    Set-ExchCertOutput -Name 'changed' -Value $changed
}

# [10/17] restart-pop-imap: Restart POP and IMAP so they load the certificate
#   known at run time: steps.preflight.outputs.runningServices, steps.enable.outputs.changed, steps.pop-imap-name.outputs.changed
#   exch-cert: timeout 10m; 1 retry, 30s apart
Invoke-ExchCertStep -Id 'restart-pop-imap' -When { (Test-ExchCertOutput -Step 'enable' -Name 'changed') -or (Test-ExchCertOutput -Step 'pop-imap-name' -Name 'changed') } -Body {
    $restarted = @(Invoke-ExchCertHost -Server 'EXCH01' -ArgumentList @(@('MSExchangePop3','MSExchangePOP3BE','MSExchangeImap4','MSExchangeIMAP4BE'), $false, (Get-ExchCertOutput -Step 'preflight' -Name 'runningServices'), 300) -ScriptBlock {
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

# [11/17] restart-transport: Restart transport so SMTP loads the certificate
#   known at run time: steps.preflight.outputs.runningServices, steps.enable.outputs.changed, steps.internal-transport.outputs.changed, steps.connectors.outputs.changed
#   exch-cert: timeout 10m; 1 retry, 30s apart
Invoke-ExchCertStep -Id 'restart-transport' -When { (Test-ExchCertOutput -Step 'enable' -Name 'changed') -or (Test-ExchCertOutput -Step 'internal-transport' -Name 'changed') -or (Test-ExchCertOutput -Step 'connectors' -Name 'changed') } -Body {
    $restarted = @(Invoke-ExchCertHost -Server 'EXCH01' -ArgumentList @(@('MSExchangeTransport','MSExchangeFrontEndTransport'), $false, (Get-ExchCertOutput -Step 'preflight' -Name 'runningServices'), 300) -ScriptBlock {
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

# [12/17] restart-mailbox-assistants: Restart the Mailbox Assistants (as the field notes do)
#   skipped: when: params.restartMailboxAssistants is false

# [13/17] restart-information-store: Restart the Information Store (its databases are dismounted while it restarts)
#   skipped: when: params.restartInformationStore is false

# [14/17] iis-reset: Restart IIS on EXCH01 (iisreset /noforce)
#   known at run time: steps.bind.outputs.changed, steps.enable.outputs.changed
#   exch-cert: timeout 10m; 1 retry, 30s apart
Invoke-ExchCertStep -Id 'iis-reset' -When { (Test-ExchCertOutput -Step 'bind' -Name 'changed') -or (Test-ExchCertOutput -Step 'enable' -Name 'changed') } -Body {
    try {
        Invoke-ExchCertHost -Server 'EXCH01' -ArgumentList @() -ScriptBlock {
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

# [15/17] verify: Check from here that clients get the new certificate wherever they got the old one
#   known at run time: steps.preflight.outputs.newThumbprint, steps.preflight.outputs.oldThumbprint, steps.probe.outputs.served
#   exch-cert: timeout 3m; 3 retries, 20s apart
#   exch-cert runs this check itself, from the machine it runs on (where clients connect from), not in PowerShell:
#   a TLS handshake with each endpoint, SNI mail.contoso.com, must get certificate <preflight.newThumbprint> valid for that name
#   where it served <preflight.oldThumbprint> before (<probe.served>):
#     mail.contoso.com:443/tls (must serve the new certificate whatever it served before)
#     EXCH01:443/tls
#     EXCH01:993/tls
#     EXCH01:995/tls
#     EXCH01:25/smtp
#     EXCH01:587/smtp
#   by hand: exch-cert verify-tls EXCH01 --servername mail.contoso.com --port 443,993,995,25/smtp,587/smtp --expect THUMBPRINT

# [16/17] health: Check that the required Exchange services run on EXCH01
#   exch-cert: timeout 5m; 2 retries, 30s apart; commits: once it succeeds, later failures do not roll back
Invoke-ExchCertStep -Id 'health' -ReadOnly -Exchange -Body {
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

# [17/17] remove-old: Remove the old certificate (its backup is verified again first)
#   known at run time: steps.preflight.outputs.oldThumbprint, steps.import.outputs.thumbprint, steps.backup-old.outputs.path, steps.preflight.outputs.remove
#   exch-cert: timeout 5m; asks for confirmation (destructive)
Invoke-ExchCertStep -Id 'remove-old' -Exchange -When { (Test-ExchCertOutput -Step 'preflight' -Name 'remove') } -Body {
    $thumbprint = ([string](Get-ExchCertOutput -Step 'preflight' -Name 'oldThumbprint')).ToUpperInvariant()
    if (-not $thumbprint) { throw 'exch-cert: no thumbprint to remove' }
    $replacement = ([string](Get-ExchCertOutput -Step 'import' -Name 'thumbprint')).ToUpperInvariant()
    if ($replacement -eq $thumbprint) {
        Write-Host ('exch-cert: ' + $thumbprint + ' is also the replacement certificate; nothing to remove')
        Set-ExchCertUnchanged
        return
    }
    if (-not (Find-ExchCertCertificate -Server 'EXCH01' -Thumbprint $replacement)) { throw ('exch-cert: not removing ' + $thumbprint + ': its replacement ' + $replacement + ' is not in the store of ' + 'EXCH01') }
    if (-not (Find-ExchCertCertificate -Server 'EXCH01' -Thumbprint $thumbprint)) {
        Write-Host ('exch-cert: ' + $thumbprint + ' is not in the store; nothing to remove')
        Set-ExchCertUnchanged
        return
    }
    # Never without a backup of this very certificate, with its key, that the password opens.
    $backupPath = Resolve-ExchCertPath -Path (Get-ExchCertOutput -Step 'backup-old' -Name 'path')
    $backedUp = $false
    try { $copy = Read-ExchCertPfx -Bytes ([System.IO.File]::ReadAllBytes($backupPath)) -Password $ExchCert.Secrets['backupPassword']; $backedUp = ($copy.Thumbprint -eq $thumbprint -and $copy.HasPrivateKey) } catch { $backedUp = $false }
    if (-not $backedUp) { throw ('exch-cert: not removing ' + $thumbprint + ': ' + $backupPath + ' is not a backup of it with its private key that the backup password opens') }
    $inUse = @()
    if ([string](Get-TransportService -Identity 'EXCH01' -ErrorAction 'Stop').InternalTransportCertificateThumbprint -eq $thumbprint) { $inUse += 'the internal transport certificate (enable another certificate for SMTP first)' }
    $auth = Get-AuthConfig -ErrorAction 'Stop'
    if ([string]$auth.CurrentCertificateThumbprint -eq $thumbprint -or [string]$auth.NextCertificateThumbprint -eq $thumbprint) { $inUse += 'the OAuth (Auth) certificate' }
    $bindings = @(Invoke-ExchCertHost -Server 'EXCH01' -ArgumentList @(,$thumbprint) -ScriptBlock {
        param($Thumbprint)
        $ErrorActionPreference = 'Stop'
        if (-not (Get-Command -Name 'Get-WebBinding' -ErrorAction SilentlyContinue)) { Import-Module WebAdministration }
        @(Get-WebBinding -Protocol 'https' | Where-Object { [string]$_.certificateHash -eq $Thumbprint } | ForEach-Object { [string]$_.ItemXPath + ' ' + [string]$_.bindingInformation })
    })
    if ($bindings.Count -gt 0) { $inUse += ('bound in IIS: ' + ($bindings -join '; ')) }
    if ($inUse.Count -gt 0) { throw ('exch-cert: not removing ' + $thumbprint + ', it is still in use as ' + ($inUse -join ' and ') + '. Move that use to another certificate first.') }
    Remove-ExchangeCertificate -Server 'EXCH01' -Thumbprint $thumbprint -Confirm:$false -ErrorAction 'Stop'
    if (Find-ExchCertCertificate -Server 'EXCH01' -Thumbprint $thumbprint) { throw ('exch-cert: Remove-ExchangeCertificate reported no error, but ' + $thumbprint + ' is still in the store') }
    Write-Host ('exch-cert: removed ' + $thumbprint)
}
}
catch {
    $exchCertFailure = $_
    Write-Host ('exch-cert: stopped: ' + $exchCertFailure.Exception.Message)
# ---- onFailure steps: run only when a step fails ----
try {
# [onFailure 1/3] rebind-old: Put the old certificate back on the bindings the renewal moved
#   known at run time: steps.preflight.outputs.rollbackBindings, steps.preflight.outputs.oldThumbprint, steps.preflight.outputs.renew
#   exch-cert: timeout 5m
Invoke-ExchCertStep -Id 'rebind-old' -When { (Test-ExchCertOutput -Step 'preflight' -Name 'renew') } -Body {
    $result = Invoke-ExchCertHost -Server 'EXCH01' -ArgumentList @((Get-ExchCertOutput -Step 'preflight' -Name 'rollbackBindings'), (Get-ExchCertOutput -Step 'preflight' -Name 'oldThumbprint')) -ScriptBlock {
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
# [onFailure 2/3] rollback-iis-reset: Restart IIS so it serves the old certificate again
#   known at run time: steps.rebind-old.outputs.changed
#   exch-cert: timeout 10m
Invoke-ExchCertStep -Id 'rollback-iis-reset' -When { (Test-ExchCertOutput -Step 'rebind-old' -Name 'changed') } -Body {
    try {
        Invoke-ExchCertHost -Server 'EXCH01' -ArgumentList @() -ScriptBlock {
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
    Write-Warning ('exch-cert: onFailure step rollback-iis-reset failed: ' + $_.Exception.Message)
}

try {
# [onFailure 3/3] start-stopped: Start every service that ran before the renewal
#   known at run time: steps.preflight.outputs.runningServices, steps.preflight.outputs.renew
#   exch-cert: timeout 10m
Invoke-ExchCertStep -Id 'start-stopped' -When { (Test-ExchCertOutput -Step 'preflight' -Name 'renew') } -Body {
    $started = @(Invoke-ExchCertHost -Server 'EXCH01' -ArgumentList @((Get-ExchCertOutput -Step 'preflight' -Name 'runningServices'), 300) -ScriptBlock {
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
