# exch-cert 0.0.0-test plan for runbook renew-edge-certificate (test.yaml)
# Renew the SMTP certificate of an Edge Transport server and re-create its Edge subscription, which carries that certificate (EdgeSync fails with "The supplied credential is invalid" until it is made again). On the Edge, through remoting with its own account and its own Exchange Management Shell: find the certificate it uses, back it up, import and enable the new one for SMTP, write a new subscription file. Inside the organisation, on the Mailbox server: remove the old subscription, subscribe again from the file (which travels through exch-cert's sessions, checked, and must arrive before its bootstrap account expires), synchronize, and require SyncStatus Normal. Only then is the old certificate removed from the Edge.
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
#   edge                  = 'EDGE01'
#   mailbox               = 'EXCH01'
#   pfxPath               = 'C:\certs\edge-2026.pfx'
#   pfxPassword           = secret, read at run time from $env:EXCH_CERT_PFX_PASSWORD
#   fqdn                  = 'mail.contoso.com'
#   friendlyName          = (not set)
#   site                  = (not set)
#   internetSendConnector = 'keep' (default)
#   inboundSendConnector  = 'keep' (default)
#   subscriptionMinutes   = 1440 (default)
#   subscriptionFile      = 'C:\ExchCertBackup\EdgeSubscription.xml' (default)
#   backupDirectory       = 'C:\ExchCertBackup' (default)
#   backupPassword        = secret, read at run time from $env:EXCH_CERT_BACKUP_PASSWORD
# Known only at run time (the script reads them with Get-ExchCertOutput):
#   steps.find-old.outputs.thumbprint
#   steps.find-old.outputs.found
#   steps.import.outputs.thumbprint
#   steps.subscription-file.outputs.path
#   steps.subscription-file.outputs.sha256
#   steps.subscription-file.outputs.expiresAt
#   steps.backup-old.outputs.path

# ---- prologue: settings, helpers, secrets, connection ----
if ($PSVersionTable.PSVersion.Major -lt 5) { throw ('exch-cert: this needs Windows PowerShell 5.1 or PowerShell 7; this is PowerShell ' + $PSVersionTable.PSVersion + '. Exchange 2016 on Windows Server 2012 R2 needs WMF 5.1.') }
$global:ErrorActionPreference = 'Stop'
$ErrorActionPreference = 'Stop'
$global:ProgressPreference = 'SilentlyContinue'
$global:ExchCert = @{ Server = 'EXCH01'; HostMode = 'session'; ExchangeCommands = @('Get-EdgeSubscription','Get-ExchangeServer','Get-SendConnector','New-EdgeSubscription','Remove-EdgeSubscription','Start-EdgeSynchronization','Test-EdgeSynchronization'); Session = $null; ExchangeModule = $null; HostSessions = @{}; HostCredentials = @{}; Credential = $null; Reconnect = $false; Outputs = @{}; Secrets = @{}; Current = $null }

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

$global:ExchCert.Secrets['backupPassword'] = Read-ExchCertSecret -Name 'backupPassword' -Variable 'EXCH_CERT_BACKUP_PASSWORD'
$global:ExchCert.Secrets['pfxPassword'] = Read-ExchCertSecret -Name 'pfxPassword' -Variable 'EXCH_CERT_PFX_PASSWORD'

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
# [1/9] find-old: Find the certificate the Edge uses for SMTP now
Invoke-ExchCertStep -Id 'find-old' -ReadOnly -Body {
    $found = Invoke-ExchCertHost -Server 'EDGE01' -ArgumentList @(,'EDGE01') -ScriptBlock {
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
    if ($found.Found) { Write-Host ('exch-cert: ' + 'EDGE01' + ' uses ' + $found.Thumbprint + ' ' + $found.Subject + ' for SMTP, valid until ' + $found.NotAfter) } else { Write-Host 'exch-cert: the Edge has no default SMTP certificate in its store' }
    foreach ($name in @('Found', 'Thumbprint', 'Subject', 'NotAfter')) { Set-ExchCertOutput -Name ($name.Substring(0, 1).ToLowerInvariant() + $name.Substring(1)) -Value $found[$name] }
}

# [2/9] sync-before: Record the state of EdgeSync before the renewal
Invoke-ExchCertStep -Id 'sync-before' -ReadOnly -Exchange -Body {
    $reports = @()
    try { $reports = @(Test-EdgeSynchronization -TargetServer 'EDGE01' -ErrorAction 'Stop') } catch { Write-Host ('exch-cert: Test-EdgeSynchronization: ' + $_.Exception.Message) }
    $status = (@($reports | ForEach-Object { [string]$_.SyncStatus }) | Select-Object -Unique) -join ', '
    $detail = (@($reports | ForEach-Object { [string]$_.FailureDetail } | Where-Object { $_ }) | Select-Object -Unique) -join ' '
    Write-Host ('exch-cert: EdgeSync with ' + 'EDGE01' + ': ' + $(if ($status) { $status } else { 'no report' }) + $(if ($detail) { ' (' + $detail + ')' } else { '' }))
    Set-ExchCertOutput -Name 'syncStatus' -Value $status
}

# [3/9] backup-old: Back up the old certificate with its private key
#   known at run time: steps.find-old.outputs.thumbprint, steps.find-old.outputs.found
Invoke-ExchCertStep -Id 'backup-old' -ReadOnly -When { (Test-ExchCertOutput -Step 'find-old' -Name 'found') } -Body {
    $thumbprint = ([string](Get-ExchCertOutput -Step 'find-old' -Name 'thumbprint')).ToUpperInvariant()
    $path = Resolve-ExchCertPath -Path (-join @('C:\ExchCertBackup\', [string](Get-ExchCertOutput -Step 'find-old' -Name 'thumbprint'), '.pfx'))
    if ([System.IO.File]::Exists($path)) {
        $verified = $false
        try { $copy = Read-ExchCertPfx -Bytes ([System.IO.File]::ReadAllBytes($path)) -Password $ExchCert.Secrets['backupPassword']; $verified = ($copy.Thumbprint -eq $thumbprint -and $copy.HasPrivateKey) } catch { $verified = $false }
        if (-not $verified) {
            [System.IO.File]::Delete($path)
            throw ('exch-cert: ' + $path + ' was already there but is not a backup of ' + $thumbprint + ' with its private key that this password opens; it was removed')
        }
        Write-Host ('exch-cert: ' + $path + ' already holds a verified backup of ' + $thumbprint)
    } else {
        $data = Invoke-ExchCertHost -Server 'EDGE01' -ArgumentList @($thumbprint, $ExchCert.Secrets['backupPassword']) -ScriptBlock {
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

# [4/9] import: Import the renewed certificate on the Edge
#   exch-cert: timeout 5m
Invoke-ExchCertStep -Id 'import' -Body {
    $bytes = [System.IO.File]::ReadAllBytes((Resolve-ExchCertPath -Path 'C:\certs\edge-2026.pfx'))
    $pfx = Read-ExchCertPfx -Bytes $bytes -Password $ExchCert.Secrets['pfxPassword']
    $thumbprint = $pfx.Thumbprint.ToUpperInvariant()
    $fqdn = 'mail.contoso.com'
    $san = @($pfx.Extensions | Where-Object { $_.Oid.Value -eq '2.5.29.17' }) | Select-Object -First 1
    $names = @(if ($san) { [regex]::Matches($san.Format($false), '(?:DNS Name=|DNS:)([^,\s]+)') | ForEach-Object { $_.Groups[1].Value } })
    if ($names.Count -eq 0) { $names = @($pfx.GetNameInfo([System.Security.Cryptography.X509Certificates.X509NameType]::DnsName, $false)) }
    $covered = @($names | Where-Object { $_ -eq $fqdn -or ($_.StartsWith('*.') -and $fqdn.Substring($fqdn.IndexOf('.') + 1) -eq $_.Substring(2)) }).Count -gt 0
    if (-not $covered) { throw ('exch-cert: the PFX holds ' + $pfx.Subject + ' for ' + ($names -join ', ') + ', which does not cover ' + $fqdn) }
    Write-Host ('exch-cert: PFX holds ' + $pfx.Subject + ', thumbprint ' + $thumbprint + ', valid until ' + $pfx.NotAfter.ToString('u'))
    $imported = Invoke-ExchCertHost -Server 'EDGE01' -ArgumentList @($bytes, $ExchCert.Secrets['pfxPassword'], $thumbprint) -ScriptBlock {
        param($Bytes, $Password, $Thumbprint)
        $ErrorActionPreference = 'Stop'
        if (-not (Get-Command -Name 'Get-ExchangeCertificate' -ErrorAction SilentlyContinue)) { Add-PSSnapin -Name 'Microsoft.Exchange.Management.PowerShell.SnapIn' }
        $there = { @(Get-ExchangeCertificate -ErrorAction 'Stop' | Where-Object { ([string]$_.Thumbprint).ToUpperInvariant() -eq $Thumbprint }).Count -gt 0 }
        if (& $there) { return $false }
        $null = Import-ExchangeCertificate -FileData ([byte[]]$Bytes) -Password $Password -PrivateKeyExportable $true -ErrorAction 'Stop'
        if (-not (& $there)) { throw ('exch-cert: Import-ExchangeCertificate reported no error, but certificate ' + $Thumbprint + ' is not in the store of the Edge') }
        $true
    }
    if (-not $imported) { Write-Host 'exch-cert: the certificate is already in the store of the Edge; not importing it again'; Set-ExchCertUnchanged }
    Set-ExchCertOutput -Name 'thumbprint' -Value $thumbprint
}

# [5/9] enable-smtp: Make the new certificate the Edge's SMTP certificate
#   known at run time: steps.import.outputs.thumbprint
#   exch-cert: timeout 5m
Invoke-ExchCertStep -Id 'enable-smtp' -Body {
    $thumbprint = ([string](Get-ExchCertOutput -Step 'import' -Name 'thumbprint')).ToUpperInvariant()
    $changed = Invoke-ExchCertHost -Server 'EDGE01' -ArgumentList @(,$thumbprint) -ScriptBlock {
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
    if ($changed) { Write-Host ('exch-cert: ' + 'EDGE01' + ' uses ' + $thumbprint + ' for SMTP now') } else { Write-Host ('exch-cert: ' + 'EDGE01' + ' already uses ' + $thumbprint + ' for SMTP'); Set-ExchCertUnchanged }
}

# [6/9] subscription-file: Create a new Edge subscription file on EDGE01. Exchange warns: subscribing deletes the accepted domains, message classifications, remote domains and Send connectors made by hand on the Edge (EdgeSync manages them from then on), and the subscription must be completed inside the organization within 1440 minutes
#   known at run time: steps.import.outputs.thumbprint
#   exch-cert: timeout 5m; asks for confirmation (destructive)
Invoke-ExchCertStep -Id 'subscription-file' -Body {
    $minutes = 1440
    $wanted = ([string](Get-ExchCertOutput -Step 'import' -Name 'thumbprint')).ToUpperInvariant()
    $createdAt = [DateTime]::UtcNow
    $made = Invoke-ExchCertHost -Server 'EDGE01' -ArgumentList @('C:\ExchCertBackup\EdgeSubscription.xml', $minutes) -ScriptBlock {
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

# [7/9] subscribe: Subscribe the Edge again inside the organisation
#   known at run time: steps.subscription-file.outputs.path, steps.subscription-file.outputs.sha256, steps.subscription-file.outputs.expiresAt
#   exch-cert: timeout 5m
Invoke-ExchCertStep -Id 'subscribe' -Exchange -Body {
    $edge = 'EDGE01'
    $expires = [DateTime]::Parse((Get-ExchCertOutput -Step 'subscription-file' -Name 'expiresAt'), [System.Globalization.CultureInfo]::InvariantCulture, [System.Globalization.DateTimeStyles]::RoundtripKind).ToUniversalTime()
    if ([DateTime]::UtcNow.AddMinutes(1) -ge $expires) { throw ('exch-cert: the subscription file of ' + $edge + ' came too late: its bootstrap account expires at ' + $expires.ToString('o') + '. Nothing was changed here; run the renewal again (not --resume): it makes a new file') }
    $data = Invoke-ExchCertHost -Server 'EDGE01' -ArgumentList @(,(Get-ExchCertOutput -Step 'subscription-file' -Name 'path')) -ScriptBlock {
        param($File)
        $ErrorActionPreference = 'Stop'
        [Convert]::ToBase64String([System.IO.File]::ReadAllBytes($File))
    }
    $bytes = [Convert]::FromBase64String([string]$data)
    $sha = [BitConverter]::ToString([System.Security.Cryptography.SHA256]::Create().ComputeHash($bytes)).Replace('-', '')
    if ($sha -ne ([string](Get-ExchCertOutput -Step 'subscription-file' -Name 'sha256')).ToUpperInvariant()) { throw ('exch-cert: the subscription file on ' + $edge + ' is not the one the Edge step wrote (SHA-256 ' + $sha + ')') }
    $old = @(Get-EdgeSubscription -ErrorAction 'Stop' | Where-Object { ([string]$_.Name) -eq $edge.Split('.')[0] })
    $fromEdge = @(Get-SendConnector -ErrorAction 'Stop' | Where-Object { [string]$_.Name -like 'EdgeSync - *' -and @($_.SourceTransportServers | ForEach-Object { ([string]$_).Split('.')[0] }) -contains $edge.Split('.')[0] })
    $decide = { param($Choice, $Pattern) if ($Choice -eq 'create') { return $true }; if ($Choice -eq 'none') { return $false }; if ($old.Count -eq 0) { return $true }; return (@($fromEdge | Where-Object { [string]$_.Name -like $Pattern }).Count -gt 0) }
    $internet = [bool](& $decide 'keep' 'EdgeSync - * to Internet')
    $inbound = [bool](& $decide 'keep' 'EdgeSync - Inbound to *')
    $site = $null
    if ($old.Count -gt 0) { $site = [string]$old[0].Site }
    if (-not $site) { $site = [string](Get-ExchangeServer -Identity 'EXCH01' -ErrorAction 'Stop').Site }
    Write-Host ('exch-cert: subscribing ' + $edge + ' to ' + $site + '; Internet send connector: ' + $internet + ', inbound send connector: ' + $inbound)
    if ($old.Count -gt 0) { Remove-EdgeSubscription -Identity $edge -Confirm:$false -ErrorAction 'Stop' }
    New-EdgeSubscription -FileData $bytes -Site $site -CreateInternetSendConnector $internet -CreateInboundSendConnector $inbound -Confirm:$false -ErrorAction 'Stop'
    if (-not @(Get-EdgeSubscription -ErrorAction 'Stop' | Where-Object { ([string]$_.Name) -eq $edge.Split('.')[0] })) { throw ('exch-cert: New-EdgeSubscription reported no error, but there is no subscription for ' + $edge) }
    Invoke-ExchCertHost -Server 'EDGE01' -ArgumentList @(,(Get-ExchCertOutput -Step 'subscription-file' -Name 'path')) -ScriptBlock {
        param($File)
        $ErrorActionPreference = 'Stop'
        [System.IO.File]::Delete($File)
    }
    Set-ExchCertOutput -Name 'site' -Value $site
}

# [8/9] sync: Synchronize, and require EdgeSync to be Normal
#   exch-cert: timeout 5m; 3 retries, 20s apart
Invoke-ExchCertStep -Id 'sync' -ReadOnly -Exchange -Body {
    foreach ($result in @(Start-EdgeSynchronization -Server 'EXCH01' -TargetServer 'EDGE01' -ForceFullSync -Confirm:$false -ErrorAction 'Stop')) {
        Write-Host ('exch-cert: Start-EdgeSynchronization: ' + [string]$result.Type + ' ' + [string]$result.Result + ' ' + [string]$result.FailureDetails)
    }
    $reports = @(Test-EdgeSynchronization -TargetServer 'EDGE01' -ErrorAction 'Stop')
    $status = (@($reports | ForEach-Object { [string]$_.SyncStatus }) | Select-Object -Unique) -join ', '
    $detail = (@($reports | ForEach-Object { [string]$_.FailureDetail } | Where-Object { $_ }) | Select-Object -Unique) -join ' '
    Write-Host ('exch-cert: EdgeSync with ' + 'EDGE01' + ': ' + $(if ($status) { $status } else { 'no report' }) + $(if ($detail) { ' (' + $detail + ')' } else { '' }))
    if ($reports.Count -eq 0 -or $status -ne 'Normal') { throw ('exch-cert: EdgeSync with ' + 'EDGE01' + ' is not Normal: Test-EdgeSynchronization reported ' + $(if ($status) { $status } else { 'nothing' }) + $(if ($detail) { ': ' + $detail } else { '' })) }
    Set-ExchCertOutput -Name 'syncStatus' -Value $status
}

# [9/9] remove-old: Remove the old certificate from the Edge
#   known at run time: steps.find-old.outputs.thumbprint, steps.import.outputs.thumbprint, steps.backup-old.outputs.path, steps.find-old.outputs.found
#   exch-cert: asks for confirmation (destructive)
Invoke-ExchCertStep -Id 'remove-old' -When { (Test-ExchCertOutput -Step 'find-old' -Name 'found') } -Body {
    $thumbprint = ([string](Get-ExchCertOutput -Step 'find-old' -Name 'thumbprint')).ToUpperInvariant()
    $replacement = ([string](Get-ExchCertOutput -Step 'import' -Name 'thumbprint')).ToUpperInvariant()
    if ($replacement -eq $thumbprint) { Write-Host ('exch-cert: ' + $thumbprint + ' is also the replacement; nothing to remove'); Set-ExchCertUnchanged; return }
    $backup = Resolve-ExchCertPath -Path (Get-ExchCertOutput -Step 'backup-old' -Name 'path')
    if (-not [System.IO.File]::Exists($backup)) { throw ('exch-cert: not removing ' + $thumbprint + ': its backup ' + $backup + ' is not there') }
    $removed = Invoke-ExchCertHost -Server 'EDGE01' -ArgumentList @($thumbprint, $replacement) -ScriptBlock {
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
}
catch {
    $exchCertFailure = $_
    Write-Host ('exch-cert: stopped: ' + $exchCertFailure.Exception.Message)
# ---- onFailure steps: run only when a step fails ----
try {
# [onFailure 1/2] restore-smtp: Put the old certificate back on SMTP on the Edge, unless EdgeSync works as it is
#   known at run time: steps.find-old.outputs.thumbprint, steps.find-old.outputs.found
Invoke-ExchCertStep -Id 'restore-smtp' -Exchange -When { (Test-ExchCertOutput -Step 'find-old' -Name 'found') } -Body {
    $thumbprint = ([string](Get-ExchCertOutput -Step 'find-old' -Name 'thumbprint')).ToUpperInvariant()
    $sync = @()
    try { $sync = @(Test-EdgeSynchronization -TargetServer 'EDGE01' -ErrorAction 'Stop') } catch { Write-Host ('exch-cert: Test-EdgeSynchronization: ' + $_.Exception.Message) }
    if ($sync.Count -gt 0 -and @($sync | Where-Object { [string]$_.SyncStatus -ne 'Normal' }).Count -eq 0) {
        Write-Host ('exch-cert: EdgeSync with ' + 'EDGE01' + ' is Normal; its SMTP certificate stays as it is')
        Set-ExchCertUnchanged
        return
    }
    $changed = Invoke-ExchCertHost -Server 'EDGE01' -ArgumentList @(,$thumbprint) -ScriptBlock {
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
    if ($changed) { Write-Host ('exch-cert: ' + 'EDGE01' + ' uses ' + $thumbprint + ' for SMTP now') } else { Write-Host ('exch-cert: ' + 'EDGE01' + ' already uses ' + $thumbprint + ' for SMTP'); Set-ExchCertUnchanged }
}
}
catch {
    Write-Warning ('exch-cert: onFailure step restore-smtp failed: ' + $_.Exception.Message)
}

try {
# [onFailure 2/2] sync-after-rollback: Check that EdgeSync is Normal
Invoke-ExchCertStep -Id 'sync-after-rollback' -ReadOnly -Exchange -Body {
    foreach ($result in @(Start-EdgeSynchronization -Server 'EXCH01' -TargetServer 'EDGE01' -ForceFullSync -Confirm:$false -ErrorAction 'Stop')) {
        Write-Host ('exch-cert: Start-EdgeSynchronization: ' + [string]$result.Type + ' ' + [string]$result.Result + ' ' + [string]$result.FailureDetails)
    }
    $reports = @(Test-EdgeSynchronization -TargetServer 'EDGE01' -ErrorAction 'Stop')
    $status = (@($reports | ForEach-Object { [string]$_.SyncStatus }) | Select-Object -Unique) -join ', '
    $detail = (@($reports | ForEach-Object { [string]$_.FailureDetail } | Where-Object { $_ }) | Select-Object -Unique) -join ' '
    Write-Host ('exch-cert: EdgeSync with ' + 'EDGE01' + ': ' + $(if ($status) { $status } else { 'no report' }) + $(if ($detail) { ' (' + $detail + ')' } else { '' }))
    if ($reports.Count -eq 0 -or $status -ne 'Normal') { throw ('exch-cert: EdgeSync with ' + 'EDGE01' + ' is not Normal: Test-EdgeSynchronization reported ' + $(if ($status) { $status } else { 'nothing' }) + $(if ($detail) { ': ' + $detail } else { '' })) }
    Set-ExchCertOutput -Name 'syncStatus' -Value $status
}
}
catch {
    Write-Warning ('exch-cert: onFailure step sync-after-rollback failed: ' + $_.Exception.Message)
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
