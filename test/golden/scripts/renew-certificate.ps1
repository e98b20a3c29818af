# exch-cert 0.0.0-test plan for runbook renew-certificate (test.yaml)
# Renew the TLS certificate of an Exchange Mailbox (Client Access) server: import the new PFX, enable it, point POP/IMAP at the FQDN, restart what must pick it up, check service health, then back up and remove the old certificate. The new certificate is live before the old one goes.
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
#   server          = 'EXCH01'
#   pfxPath         = 'C:\certs\mail-2026.pfx'
#   pfxPassword     = secret, read at run time from $env:EXCH_CERT_PFX_PASSWORD
#   fqdn            = 'mail.contoso.com'
#   friendlyName    = (not set)
#   services        = @('IIS','SMTP','POP','IMAP') (default)
#   backupDirectory = 'C:\ExchCertBackup' (default)
#   backupPassword  = secret, read at run time from $env:EXCH_CERT_BACKUP_PASSWORD
# Known only at run time (the script reads them with Get-ExchCertOutput):
#   steps.import.outputs.thumbprint
#   steps.find-old.outputs.thumbprint
#   steps.find-old.outputs.found
#   steps.rebind-old.outputs.changed

# ---- prologue: settings, helpers, secrets, connection ----
if ($PSVersionTable.PSVersion.Major -lt 5) { throw ('exch-cert: this needs Windows PowerShell 5.1 or PowerShell 7; this is PowerShell ' + $PSVersionTable.PSVersion + '. Exchange 2016 on Windows Server 2012 R2 needs WMF 5.1.') }
$global:ErrorActionPreference = 'Stop'
$ErrorActionPreference = 'Stop'
$global:ProgressPreference = 'SilentlyContinue'
$global:ExchCert = @{ Server = 'EXCH01'; HostMode = 'session'; ExchangeCommands = @('Enable-ExchangeCertificate','Export-ExchangeCertificate','Get-AuthConfig','Get-ExchangeCertificate','Get-ImapSettings','Get-PopSettings','Get-TransportService','Import-ExchangeCertificate','Remove-ExchangeCertificate','Set-ImapSettings','Set-PopSettings','Test-ServiceHealth'); Session = $null; ExchangeModule = $null; HostSessions = @{}; HostCredentials = @{}; Credential = $null; Reconnect = $false; Outputs = @{}; Secrets = @{}; Current = $null }

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
# [1/11] find-old: Find the certificate Default Web Site serves on 443 now
Invoke-ExchCertStep -Id 'find-old' -ReadOnly -Exchange -Body {
    $thumbprint = [string](Invoke-ExchCertHost -Server 'EXCH01' -ArgumentList @('Default Web Site', 443, '*', $false) -ScriptBlock {
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
    if ($thumbprint) { $certificate = Find-ExchCertCertificate -Server 'EXCH01' -Thumbprint $thumbprint }
    if (-not $certificate) {
        throw ('exch-cert: certificate ' + $thumbprint + ' is not in the store of ' + 'EXCH01')
    }
    Write-Host ('exch-cert: found ' + $certificate.Thumbprint + ' ' + $certificate.Subject + ', services ' + [string]$certificate.Services + ', valid until ' + ([datetime]$certificate.NotAfter).ToUniversalTime().ToString('u'))
    Set-ExchCertOutput -Name 'found' -Value $true
    Set-ExchCertOutput -Name 'thumbprint' -Value ([string]$certificate.Thumbprint)
    Set-ExchCertOutput -Name 'subject' -Value ([string]$certificate.Subject)
    Set-ExchCertOutput -Name 'notAfter' -Value ([datetime]$certificate.NotAfter).ToUniversalTime().ToString('o')
    Set-ExchCertOutput -Name 'services' -Value ([string]$certificate.Services)
}

# [2/11] import: Import the renewed certificate
#   exch-cert: timeout 5m
Invoke-ExchCertStep -Id 'import' -Exchange -Body {
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

# [3/11] enable: Enable the certificate for IIS, SMTP, POP, IMAP
#   known at run time: steps.import.outputs.thumbprint
#   exch-cert: timeout 5m
Invoke-ExchCertStep -Id 'enable' -Exchange -Body {
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
    if ($missing.Count -eq 0) {
        Write-Host ('exch-cert: already enabled for ' + ($services -join ', '))
        Set-ExchCertUnchanged
    } else {
        $internalBefore = [string](Get-TransportService -Identity 'EXCH01' -ErrorAction 'Stop').InternalTransportCertificateThumbprint
        $enableError = $null
        try {
            Enable-ExchangeCertificate -Server 'EXCH01' -Thumbprint $thumbprint -Services $services -Force -ErrorAction 'Stop'
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

# [4/11] bind-default-web-site: Make sure Default Web Site *:443 serves the new certificate
#   known at run time: steps.import.outputs.thumbprint
Invoke-ExchCertStep -Id 'bind-default-web-site' -Body {
    $result = Invoke-ExchCertHost -Server 'EXCH01' -ArgumentList @('Default Web Site', 443, '*', (Get-ExchCertOutput -Step 'import' -Name 'thumbprint')) -ScriptBlock {
        param($Site, $Port, $Ip, $Thumbprint)
        $ErrorActionPreference = 'Stop'
        if (-not (Get-Command -Name 'Get-WebBinding' -ErrorAction SilentlyContinue)) { Import-Module WebAdministration }
        # Only the binding without a host name (SNI bindings are separate, P7).
        $information = $Ip + ':' + $Port + ':'
        $binding = Get-WebBinding -Name $Site -Protocol 'https' | Where-Object { $_.bindingInformation -eq $information }
        $previous = ''
        if (-not $binding) {
            New-WebBinding -Name $Site -Protocol 'https' -Port $Port -IPAddress $Ip
            $binding = Get-WebBinding -Name $Site -Protocol 'https' | Where-Object { $_.bindingInformation -eq $information }
        } else {
            $previous = [string]$binding.certificateHash
        }
        if ($previous -ne $Thumbprint) {
            # http.sys refuses to add over an existing SSL binding (0x800700B7): remove, add, and put
            # the previous certificate back if the add fails, so the site is never left without one.
            if ($previous) { $binding.RemoveSslCertificate() }
            try {
                $binding.AddSslCertificate($Thumbprint, 'My')
            } catch {
                if ($previous) { $binding.AddSslCertificate($previous, 'My') }
                throw
            }
            $after = [string](Get-WebBinding -Name $Site -Protocol 'https' | Where-Object { $_.bindingInformation -eq $information }).certificateHash
            if ($after -ne $Thumbprint) { throw ('exch-cert: ' + $Site + ' ' + $Ip + ':' + $Port + ' still uses ' + $after + ' after binding ' + $Thumbprint) }
        }
        @{ Previous = $previous; Changed = ($previous -ne $Thumbprint) }
    }
    if (-not $result.Changed) { Set-ExchCertUnchanged }
    Set-ExchCertOutput -Name 'previousThumbprint' -Value ([string]$result.Previous)
    Set-ExchCertOutput -Name 'changed' -Value ([bool]$result.Changed)
}

# [5/11] pop-imap-name: Point POP and IMAP at the certificate for the FQDN
Invoke-ExchCertStep -Id 'pop-imap-name' -Exchange -Body {
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
}

# [6/11] restart-pop-imap: Restart POP and IMAP so they load the certificate
#   exch-cert: timeout 10m; 1 retry, 30s apart
Invoke-ExchCertStep -Id 'restart-pop-imap' -Body {
    $restarted = @(Invoke-ExchCertHost -Server 'EXCH01' -ArgumentList @(@('MSExchangePop3','MSExchangePOP3BE','MSExchangeImap4','MSExchangeIMAP4BE'), $false, 300) -ScriptBlock {
        param($Names, $IncludeStopped, $WaitSeconds)
        $ErrorActionPreference = 'Stop'
        foreach ($name in $Names) {
            $service = Get-Service -Name $name
            if ($service.Status -ne 'Running' -and -not $IncludeStopped) {
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

# [7/11] restart-transport: Restart transport so SMTP loads the certificate
#   exch-cert: timeout 10m; 1 retry, 30s apart
Invoke-ExchCertStep -Id 'restart-transport' -Body {
    $restarted = @(Invoke-ExchCertHost -Server 'EXCH01' -ArgumentList @(@('MSExchangeTransport','MSExchangeFrontEndTransport'), $false, 300) -ScriptBlock {
        param($Names, $IncludeStopped, $WaitSeconds)
        $ErrorActionPreference = 'Stop'
        foreach ($name in $Names) {
            $service = Get-Service -Name $name
            if ($service.Status -ne 'Running' -and -not $IncludeStopped) {
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

# [8/11] iis-reset: Restart IIS on EXCH01 (iisreset /noforce)
#   exch-cert: timeout 10m
Invoke-ExchCertStep -Id 'iis-reset' -Body {
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

# [9/11] health: Check that the required Exchange services run on EXCH01
#   exch-cert: timeout 5m; 2 retries, 30s apart
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

# [10/11] backup-old: Back up the old certificate with its private key
#   known at run time: steps.find-old.outputs.thumbprint
Invoke-ExchCertStep -Id 'backup-old' -ReadOnly -Exchange -Body {
    $thumbprint = ([string](Get-ExchCertOutput -Step 'find-old' -Name 'thumbprint')).ToUpperInvariant()
    if (-not (Find-ExchCertCertificate -Server 'EXCH01' -Thumbprint $thumbprint)) { throw ('exch-cert: certificate ' + $thumbprint + ' is not in the store of ' + 'EXCH01' + '; there is nothing to back up') }
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
        $directory = [System.IO.Path]::GetDirectoryName($path)
        if ($directory -and -not [System.IO.Directory]::Exists($directory)) { $null = [System.IO.Directory]::CreateDirectory($directory) }
        $export = Export-ExchangeCertificate -Server 'EXCH01' -Thumbprint $thumbprint -BinaryEncoded -Password $ExchCert.Secrets['backupPassword'] -ErrorAction 'Stop'
        Write-ExchCertPrivateFile -Path $path -Bytes ([byte[]]$export.FileData)
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

# [11/11] remove-old: Remove the old certificate
#   known at run time: steps.find-old.outputs.thumbprint, steps.import.outputs.thumbprint
#   exch-cert: asks for confirmation (destructive)
Invoke-ExchCertStep -Id 'remove-old' -Exchange -Body {
    $thumbprint = ([string](Get-ExchCertOutput -Step 'find-old' -Name 'thumbprint')).ToUpperInvariant()
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
# [onFailure 1/2] rebind-old: Put the old certificate back on Default Web Site *:443
#   known at run time: steps.find-old.outputs.thumbprint, steps.find-old.outputs.found
Invoke-ExchCertStep -Id 'rebind-old' -When { Test-ExchCertOutput -Step 'find-old' -Name 'found' } -Body {
    $result = Invoke-ExchCertHost -Server 'EXCH01' -ArgumentList @('Default Web Site', 443, '*', (Get-ExchCertOutput -Step 'find-old' -Name 'thumbprint')) -ScriptBlock {
        param($Site, $Port, $Ip, $Thumbprint)
        $ErrorActionPreference = 'Stop'
        if (-not (Get-Command -Name 'Get-WebBinding' -ErrorAction SilentlyContinue)) { Import-Module WebAdministration }
        # Only the binding without a host name (SNI bindings are separate, P7).
        $information = $Ip + ':' + $Port + ':'
        $binding = Get-WebBinding -Name $Site -Protocol 'https' | Where-Object { $_.bindingInformation -eq $information }
        $previous = ''
        if (-not $binding) {
            New-WebBinding -Name $Site -Protocol 'https' -Port $Port -IPAddress $Ip
            $binding = Get-WebBinding -Name $Site -Protocol 'https' | Where-Object { $_.bindingInformation -eq $information }
        } else {
            $previous = [string]$binding.certificateHash
        }
        if ($previous -ne $Thumbprint) {
            # http.sys refuses to add over an existing SSL binding (0x800700B7): remove, add, and put
            # the previous certificate back if the add fails, so the site is never left without one.
            if ($previous) { $binding.RemoveSslCertificate() }
            try {
                $binding.AddSslCertificate($Thumbprint, 'My')
            } catch {
                if ($previous) { $binding.AddSslCertificate($previous, 'My') }
                throw
            }
            $after = [string](Get-WebBinding -Name $Site -Protocol 'https' | Where-Object { $_.bindingInformation -eq $information }).certificateHash
            if ($after -ne $Thumbprint) { throw ('exch-cert: ' + $Site + ' ' + $Ip + ':' + $Port + ' still uses ' + $after + ' after binding ' + $Thumbprint) }
        }
        @{ Previous = $previous; Changed = ($previous -ne $Thumbprint) }
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
# [onFailure 2/2] rollback-iis-reset: Restart IIS so it serves the old certificate again
#   known at run time: steps.rebind-old.outputs.changed
Invoke-ExchCertStep -Id 'rollback-iis-reset' -When { Test-ExchCertOutput -Step 'rebind-old' -Name 'changed' } -Body {
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
