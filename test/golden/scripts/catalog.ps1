#Requires -Version 5.1
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
#   steps.find-loopback.outputs.thumbprint
#   steps.find-loopback.outputs.found

# ---- prologue: settings, helpers, secrets, connection ----
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$global:ExchCert = @{ Server = 'EXCH01'; HostMode = 'remote'; Session = $null; Credential = $null; Outputs = @{}; Secrets = @{}; Current = $null }

function global:Invoke-ExchCertStep {
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
}

$global:ExchCert.Secrets['pfxPassword'] = Read-ExchCertSecret -Name 'pfxPassword' -Variable 'PFX_PASSWORD'
$global:ExchCert.Secrets['backupPassword'] = Read-ExchCertSecret -Name 'backupPassword' -Variable 'BACKUP_PASSWORD'

# Connection: Exchange remote PowerShell (cmdlets already loaded, as in the Exchange Management Shell, are used as they are)
if (-not (Get-Command -Name 'Get-ExchangeCertificate' -ErrorAction SilentlyContinue)) {
    $session = @{ ConfigurationName = 'Microsoft.Exchange'; ConnectionUri = 'http://EXCH01/PowerShell/'; Authentication = 'Kerberos' }
    if ($global:ExchCert.Credential) { $session.Credential = $global:ExchCert.Credential }
    $global:ExchCert.Session = New-PSSession @session
    $null = Import-Module (Import-PSSession -Session $global:ExchCert.Session -DisableNameChecking -AllowClobber) -Global -DisableNameChecking
}

# ---- steps ----
try {
# [1/15] create: Create a self-signed certificate for EXCH01, exch01.contoso.local
Invoke-ExchCertStep -Id 'create' -Body {
    $certificate = New-ExchangeCertificate -Server 'exch01.contoso.com' -SubjectName 'CN=EXCH01' -DomainName @('EXCH01','exch01.contoso.local') -FriendlyName 'Back end' -PrivateKeyExportable $false -KeySize 4096 -Services 'None' -Force
    Write-Host ('exch-cert: created ' + $certificate.Thumbprint + ' for ' + (@($certificate.CertificateDomains) -join ', '))
    Set-ExchCertOutput -Name 'thumbprint' -Value ([string]$certificate.Thumbprint)
}

# [2/15] import: Import the certificate from C:\certs\new.pfx
Invoke-ExchCertStep -Id 'import' -Body {
    $bytes = [System.IO.File]::ReadAllBytes((Resolve-ExchCertPath -Path 'C:\certs\new.pfx'))
    $pfx = Read-ExchCertPfx -Bytes $bytes -Password $ExchCert.Secrets['pfxPassword']
    Write-Host ('exch-cert: PFX holds ' + $pfx.Subject + ', thumbprint ' + $pfx.Thumbprint + ', valid until ' + $pfx.NotAfter.ToString('u'))
    $existing = Get-ExchangeCertificate -Server 'exch01.contoso.com' -Thumbprint $pfx.Thumbprint -ErrorAction 'SilentlyContinue'
    if ($existing) {
        Write-Host 'exch-cert: the certificate is already in the store; not importing it again'
        Set-ExchCertUnchanged
    } else {
        $null = Import-ExchangeCertificate -Server 'exch01.contoso.com' -FileData $bytes -Password $ExchCert.Secrets['pfxPassword'] -PrivateKeyExportable $true -FriendlyName 'Renewed 2026'
        $null = Get-ExchangeCertificate -Server 'exch01.contoso.com' -Thumbprint $pfx.Thumbprint
    }
    Set-ExchCertOutput -Name 'thumbprint' -Value $pfx.Thumbprint
}

# [3/15] find-by-thumbprint: Find certificate <import.thumbprint>
#   known at run time: steps.import.outputs.thumbprint
Invoke-ExchCertStep -Id 'find-by-thumbprint' -ReadOnly -Body {
    $thumbprint = (Get-ExchCertOutput -Step 'import' -Name 'thumbprint')
    $certificate = Get-ExchangeCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint
    Write-Host ('exch-cert: found ' + $certificate.Thumbprint + ' ' + $certificate.Subject + ', services ' + [string]$certificate.Services + ', valid until ' + ([datetime]$certificate.NotAfter).ToUniversalTime().ToString('u'))
    Set-ExchCertOutput -Name 'found' -Value $true
    Set-ExchCertOutput -Name 'thumbprint' -Value ([string]$certificate.Thumbprint)
    Set-ExchCertOutput -Name 'subject' -Value ([string]$certificate.Subject)
    Set-ExchCertOutput -Name 'notAfter' -Value ([datetime]$certificate.NotAfter).ToUniversalTime().ToString('o')
    Set-ExchCertOutput -Name 'services' -Value ([string]$certificate.Services)
}

# [4/15] find-loopback: Find the certificate bound to Default Web Site 127.0.0.1:443
Invoke-ExchCertStep -Id 'find-loopback' -ReadOnly -Body {
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
    if ($thumbprint) { $certificate = Get-ExchangeCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint -ErrorAction 'SilentlyContinue' }
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

# [5/15] enable-smtp-only: Enable the certificate for SMTP
#   known at run time: steps.import.outputs.thumbprint
Invoke-ExchCertStep -Id 'enable-smtp-only' -Body {
    $thumbprint = (Get-ExchCertOutput -Step 'import' -Name 'thumbprint')
    $certificate = Get-ExchangeCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint
    $services = @('SMTP')
    $enabled = @(([string]$certificate.Services) -split ',\s*' | Where-Object { $_ })
    $missing = @($services | Where-Object { $enabled -notcontains $_ })
    if ($missing.Count -eq 0) {
        Write-Host ('exch-cert: already enabled for ' + ($services -join ', '))
        Set-ExchCertUnchanged
    } else {
        Enable-ExchangeCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint -Services $services -Force
    }
    Set-ExchCertOutput -Name 'services' -Value $services
}

# [6/15] enable: Enable the certificate for IIS, POP, IMAP, SMTP
#   known at run time: steps.import.outputs.thumbprint
Invoke-ExchCertStep -Id 'enable' -Body {
    $thumbprint = (Get-ExchCertOutput -Step 'import' -Name 'thumbprint')
    $certificate = Get-ExchangeCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint
    $services = @('IIS','POP','IMAP','SMTP')
    # Exchange refuses POP and IMAP on a wildcard certificate; set-pop-imap-certificate-name covers them (P8).
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
        $internalBefore = [string](Get-TransportService -Identity 'exch01.contoso.com').InternalTransportCertificateThumbprint
        try {
            Enable-ExchangeCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint -Services $services -DoNotRequireSsl -Force
        } finally {
            # -Force makes this certificate the internal transport certificate (P13). The property is
            # read-only; enabling the previous certificate for SMTP with -Force is how it goes back.
            # In finally: also when Enable failed half-way.
            $internalAfter = [string](Get-TransportService -Identity 'exch01.contoso.com').InternalTransportCertificateThumbprint
            if ($internalBefore -and $internalAfter -ne $internalBefore) {
                Enable-ExchangeCertificate -Server 'exch01.contoso.com' -Thumbprint $internalBefore -Services @('SMTP') -Force
                Write-Host ('exch-cert: internal transport certificate kept at ' + $internalBefore)
            }
        }
    }
    Set-ExchCertOutput -Name 'services' -Value $services
}

# [7/15] bind-back-end: Bind Exchange Back End *:444 to certificate <create.thumbprint>
#   known at run time: steps.create.outputs.thumbprint
Invoke-ExchCertStep -Id 'bind-back-end' -Body {
    $result = Invoke-ExchCertHost -Server 'exch01.contoso.com' -ArgumentList @('Exchange Back End', 444, '*', (Get-ExchCertOutput -Step 'create' -Name 'thumbprint')) -ScriptBlock {
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

# [8/15] pop-only: Set the POP certificate name to mail.contoso.com
Invoke-ExchCertStep -Id 'pop-only' -Body {
    $name = 'mail.contoso.com'
    $changed = $false
    if ([string](Get-PopSettings -Server 'exch01.contoso.com').X509CertificateName -ne $name) {
        Set-PopSettings -Server 'exch01.contoso.com' -X509CertificateName $name
        $changed = $true
    }
    if (-not $changed) { Set-ExchCertUnchanged }
}

# [9/15] restart: Restart MSExchangePop3, MSExchangePOP3BE
#   exch-cert: timeout 90s; 2 retries, 15s apart
Invoke-ExchCertStep -Id 'restart' -Body {
    $restarted = @(Invoke-ExchCertHost -Server 'exch01.contoso.com' -ArgumentList @(@('MSExchangePop3','MSExchangePOP3BE'), $true, 60) -ScriptBlock {
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

# [10/15] iis: Restart IIS on exch01.contoso.com
Invoke-ExchCertStep -Id 'iis' -Body {
    Invoke-ExchCertHost -Server 'exch01.contoso.com' -ArgumentList @() -ScriptBlock {
        param()
        $ErrorActionPreference = 'Stop'
        $output = iisreset
        if ($LASTEXITCODE -ne 0) { throw ('exch-cert: iisreset failed with exit code ' + $LASTEXITCODE + ': ' + (@($output) -join ' ')) }
        Write-Host ('exch-cert: ' + (@($output) -join ' '))
    }
}

try {
# [11/15] health: Check that the required Exchange services run on exch01.contoso.com
#   exch-cert: continues on error
Invoke-ExchCertStep -Id 'health' -ReadOnly -Body {
    $problems = @()
    foreach ($role in @(Test-ServiceHealth -Server 'exch01.contoso.com')) {
        Write-Host ('exch-cert: ' + $role.Role + ': required services running: ' + $role.RequiredServicesRunning)
        if (-not $role.RequiredServicesRunning -or [string]$role.RequiredServicesRunning -eq 'False') {
            $problems += ($role.Role + ': ' + (@($role.ServicesNotRunning) -join ', '))
        }
    }
    if ($problems.Count -gt 0) { throw ('exch-cert: required services are not running: ' + ($problems -join '; ')) }
}
}
catch {
    Write-Warning ('exch-cert: step health failed, continuing (continueOnError): ' + $_.Exception.Message)
}

# [12/15] backup: Back up certificate <find-loopback.thumbprint> to D:\backup\old.pfx
#   known at run time: steps.find-loopback.outputs.thumbprint
Invoke-ExchCertStep -Id 'backup' -ReadOnly -Body {
    $thumbprint = (Get-ExchCertOutput -Step 'find-loopback' -Name 'thumbprint')
    $path = Resolve-ExchCertPath -Path 'D:\backup\old.pfx'
    if (Test-Path -LiteralPath $path) {
        $existing = Read-ExchCertPfx -Bytes ([System.IO.File]::ReadAllBytes($path)) -Password $ExchCert.Secrets['backupPassword']
        if ($existing.Thumbprint -ne $thumbprint) { throw ('exch-cert: ' + $path + ' already exists and holds another certificate; choose another backup path') }
        Write-Host ('exch-cert: ' + $path + ' already holds a backup of ' + $thumbprint)
    } else {
        $directory = [System.IO.Path]::GetDirectoryName($path)
        if ($directory -and -not (Test-Path -LiteralPath $directory)) { $null = New-Item -ItemType Directory -Path $directory -Force }
        $export = Export-ExchangeCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint -BinaryEncoded -Password $ExchCert.Secrets['backupPassword']
        [System.IO.File]::WriteAllBytes($path, [byte[]]$export.FileData)
        $written = Read-ExchCertPfx -Bytes ([System.IO.File]::ReadAllBytes($path)) -Password $ExchCert.Secrets['backupPassword']
        if ($written.Thumbprint -ne $thumbprint -or -not $written.HasPrivateKey) { throw ('exch-cert: the backup in ' + $path + ' does not hold certificate ' + $thumbprint + ' with its private key') }
        Write-Host ('exch-cert: backed up ' + $thumbprint + ' to ' + $path)
    }
    Set-ExchCertOutput -Name 'path' -Value $path
}

# [13/15] remove: Remove certificate <find-loopback.thumbprint>
#   known at run time: steps.find-loopback.outputs.thumbprint
#   exch-cert: asks for confirmation (destructive)
Invoke-ExchCertStep -Id 'remove' -Body {
    $thumbprint = (Get-ExchCertOutput -Step 'find-loopback' -Name 'thumbprint')
    $certificate = Get-ExchangeCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint -ErrorAction 'SilentlyContinue'
    if (-not $certificate) {
        Write-Host ('exch-cert: ' + $thumbprint + ' is not in the store; nothing to remove')
        Set-ExchCertUnchanged
        return
    }
    $inUse = @()
    if ([string](Get-TransportService -Identity 'exch01.contoso.com').InternalTransportCertificateThumbprint -eq $thumbprint) { $inUse += 'the internal transport certificate (Set-TransportService -InternalTransportCertificateThumbprint)' }
    $auth = Get-AuthConfig
    if ([string]$auth.CurrentCertificateThumbprint -eq $thumbprint -or [string]$auth.NextCertificateThumbprint -eq $thumbprint) { $inUse += 'the OAuth (Auth) certificate' }
    $bindings = @(Invoke-ExchCertHost -Server 'exch01.contoso.com' -ArgumentList @(,$thumbprint) -ScriptBlock {
        param($Thumbprint)
        $ErrorActionPreference = 'Stop'
        if (-not (Get-Command -Name 'Get-WebBinding' -ErrorAction SilentlyContinue)) { Import-Module WebAdministration }
        @(Get-WebBinding -Protocol 'https' | Where-Object { [string]$_.certificateHash -eq $Thumbprint } | ForEach-Object { [string]$_.ItemXPath + ' ' + [string]$_.bindingInformation })
    })
    if ($bindings.Count -gt 0) { $inUse += ('bound in IIS: ' + ($bindings -join '; ')) }
    if ($inUse.Count -gt 0) { throw ('exch-cert: not removing ' + $thumbprint + ', it is still in use as ' + ($inUse -join ' and ') + '. Move that use to another certificate first.') }
    Remove-ExchangeCertificate -Server 'exch01.contoso.com' -Thumbprint $thumbprint -Confirm:$false
    Write-Host ('exch-cert: removed ' + $thumbprint)
}

# [14/15] script-here: Run a custom PowerShell script
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

# [15/15] script-on-host: Run a custom PowerShell script
#   known at run time: steps.find-loopback.outputs.found
Invoke-ExchCertStep -Id 'script-on-host' -When { Test-ExchCertOutput -Step 'find-loopback' -Name 'found' } -Body {
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
# [onFailure 1/2] rebind-old: Bind Default Web Site *:443 to certificate <find-loopback.thumbprint>
#   known at run time: steps.find-loopback.outputs.thumbprint
Invoke-ExchCertStep -Id 'rebind-old' -Body {
    $result = Invoke-ExchCertHost -Server 'exch01.contoso.com' -ArgumentList @('Default Web Site', 443, '*', (Get-ExchCertOutput -Step 'find-loopback' -Name 'thumbprint')) -ScriptBlock {
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
# [onFailure 2/2] rollback-iis: Restart IIS on exch01.contoso.com (iisreset /noforce)
Invoke-ExchCertStep -Id 'rollback-iis' -Body {
    Invoke-ExchCertHost -Server 'exch01.contoso.com' -ArgumentList @() -ScriptBlock {
        param()
        $ErrorActionPreference = 'Stop'
        $output = iisreset /noforce
        if ($LASTEXITCODE -ne 0) { throw ('exch-cert: iisreset failed with exit code ' + $LASTEXITCODE + ': ' + (@($output) -join ' ')) }
        Write-Host ('exch-cert: ' + (@($output) -join ' '))
    }
}
}
catch {
    Write-Warning ('exch-cert: onFailure step rollback-iis failed: ' + $_.Exception.Message)
}
    throw $exchCertFailure
}
finally {
# ---- epilogue: disconnect ----
if ($global:ExchCert.Session) {
    Remove-PSSession -Session $global:ExchCert.Session
    $global:ExchCert.Session = $null
}
}
