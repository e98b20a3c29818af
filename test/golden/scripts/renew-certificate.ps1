#Requires -Version 5.1
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

$global:ExchCert.Secrets['pfxPassword'] = Read-ExchCertSecret -Name 'pfxPassword' -Variable 'EXCH_CERT_PFX_PASSWORD'
$global:ExchCert.Secrets['backupPassword'] = Read-ExchCertSecret -Name 'backupPassword' -Variable 'EXCH_CERT_BACKUP_PASSWORD'

# Connection: Exchange remote PowerShell (cmdlets already loaded, as in the Exchange Management Shell, are used as they are)
if (-not (Get-Command -Name 'Get-ExchangeCertificate' -ErrorAction SilentlyContinue)) {
    $session = @{ ConfigurationName = 'Microsoft.Exchange'; ConnectionUri = 'http://EXCH01/PowerShell/'; Authentication = 'Kerberos' }
    if ($global:ExchCert.Credential) { $session.Credential = $global:ExchCert.Credential }
    $global:ExchCert.Session = New-PSSession @session
    $null = Import-Module (Import-PSSession -Session $global:ExchCert.Session -DisableNameChecking -AllowClobber) -Global -DisableNameChecking
}

# ---- steps ----
try {
# [1/11] find-old: Find the certificate Default Web Site serves on 443 now
Invoke-ExchCertStep -Id 'find-old' -ReadOnly -Body {
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
    $certificate = Get-ExchangeCertificate -Server 'EXCH01' -Thumbprint $thumbprint
    Write-Host ('exch-cert: found ' + $certificate.Thumbprint + ' ' + $certificate.Subject + ', services ' + [string]$certificate.Services + ', valid until ' + ([datetime]$certificate.NotAfter).ToUniversalTime().ToString('u'))
    Set-ExchCertOutput -Name 'found' -Value $true
    Set-ExchCertOutput -Name 'thumbprint' -Value ([string]$certificate.Thumbprint)
    Set-ExchCertOutput -Name 'subject' -Value ([string]$certificate.Subject)
    Set-ExchCertOutput -Name 'notAfter' -Value ([datetime]$certificate.NotAfter).ToUniversalTime().ToString('o')
    Set-ExchCertOutput -Name 'services' -Value ([string]$certificate.Services)
}

# [2/11] import: Import the renewed certificate
#   exch-cert: timeout 5m
Invoke-ExchCertStep -Id 'import' -Body {
    $bytes = [System.IO.File]::ReadAllBytes((Resolve-ExchCertPath -Path 'C:\certs\mail-2026.pfx'))
    $pfx = Read-ExchCertPfx -Bytes $bytes -Password $ExchCert.Secrets['pfxPassword']
    Write-Host ('exch-cert: PFX holds ' + $pfx.Subject + ', thumbprint ' + $pfx.Thumbprint + ', valid until ' + $pfx.NotAfter.ToString('u'))
    $existing = Get-ExchangeCertificate -Server 'EXCH01' -Thumbprint $pfx.Thumbprint -ErrorAction 'SilentlyContinue'
    if ($existing) {
        Write-Host 'exch-cert: the certificate is already in the store; not importing it again'
        Set-ExchCertUnchanged
    } else {
        $null = Import-ExchangeCertificate -Server 'EXCH01' -FileData $bytes -Password $ExchCert.Secrets['pfxPassword'] -PrivateKeyExportable $true
        $null = Get-ExchangeCertificate -Server 'EXCH01' -Thumbprint $pfx.Thumbprint
    }
    Set-ExchCertOutput -Name 'thumbprint' -Value $pfx.Thumbprint
}

# [3/11] enable: Enable the certificate for IIS, SMTP, POP, IMAP
#   known at run time: steps.import.outputs.thumbprint
#   exch-cert: timeout 5m
Invoke-ExchCertStep -Id 'enable' -Body {
    $thumbprint = (Get-ExchCertOutput -Step 'import' -Name 'thumbprint')
    $certificate = Get-ExchangeCertificate -Server 'EXCH01' -Thumbprint $thumbprint
    $services = @('IIS','SMTP','POP','IMAP')
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
        $internalBefore = [string](Get-TransportService -Identity 'EXCH01').InternalTransportCertificateThumbprint
        try {
            Enable-ExchangeCertificate -Server 'EXCH01' -Thumbprint $thumbprint -Services $services -Force
        } finally {
            # -Force makes this certificate the internal transport certificate (P13). The property is
            # read-only; enabling the previous certificate for SMTP with -Force is how it goes back.
            # In finally: also when Enable failed half-way.
            $internalAfter = [string](Get-TransportService -Identity 'EXCH01').InternalTransportCertificateThumbprint
            if ($internalBefore -and $internalAfter -ne $internalBefore) {
                Enable-ExchangeCertificate -Server 'EXCH01' -Thumbprint $internalBefore -Services @('SMTP') -Force
                Write-Host ('exch-cert: internal transport certificate kept at ' + $internalBefore)
            }
        }
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
Invoke-ExchCertStep -Id 'pop-imap-name' -Body {
    $name = 'mail.contoso.com'
    $changed = $false
    if ([string](Get-PopSettings -Server 'EXCH01').X509CertificateName -ne $name) {
        Set-PopSettings -Server 'EXCH01' -X509CertificateName $name
        $changed = $true
    }
    if ([string](Get-ImapSettings -Server 'EXCH01').X509CertificateName -ne $name) {
        Set-ImapSettings -Server 'EXCH01' -X509CertificateName $name
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
    Invoke-ExchCertHost -Server 'EXCH01' -ArgumentList @() -ScriptBlock {
        param()
        $ErrorActionPreference = 'Stop'
        $output = iisreset /noforce
        if ($LASTEXITCODE -ne 0) { throw ('exch-cert: iisreset failed with exit code ' + $LASTEXITCODE + ': ' + (@($output) -join ' ')) }
        Write-Host ('exch-cert: ' + (@($output) -join ' '))
    }
}

# [9/11] health: Check that the required Exchange services run on EXCH01
#   exch-cert: timeout 5m; 2 retries, 30s apart
Invoke-ExchCertStep -Id 'health' -ReadOnly -Body {
    $problems = @()
    foreach ($role in @(Test-ServiceHealth -Server 'EXCH01')) {
        Write-Host ('exch-cert: ' + $role.Role + ': required services running: ' + $role.RequiredServicesRunning)
        if (-not $role.RequiredServicesRunning -or [string]$role.RequiredServicesRunning -eq 'False') {
            $problems += ($role.Role + ': ' + (@($role.ServicesNotRunning) -join ', '))
        }
    }
    if ($problems.Count -gt 0) { throw ('exch-cert: required services are not running: ' + ($problems -join '; ')) }
}

# [10/11] backup-old: Back up the old certificate with its private key
#   known at run time: steps.find-old.outputs.thumbprint
Invoke-ExchCertStep -Id 'backup-old' -ReadOnly -Body {
    $thumbprint = (Get-ExchCertOutput -Step 'find-old' -Name 'thumbprint')
    $path = Resolve-ExchCertPath -Path (-join @('C:\ExchCertBackup\', [string](Get-ExchCertOutput -Step 'find-old' -Name 'thumbprint'), '.pfx'))
    if (Test-Path -LiteralPath $path) {
        $existing = Read-ExchCertPfx -Bytes ([System.IO.File]::ReadAllBytes($path)) -Password $ExchCert.Secrets['backupPassword']
        if ($existing.Thumbprint -ne $thumbprint) { throw ('exch-cert: ' + $path + ' already exists and holds another certificate; choose another backup path') }
        Write-Host ('exch-cert: ' + $path + ' already holds a backup of ' + $thumbprint)
    } else {
        $directory = [System.IO.Path]::GetDirectoryName($path)
        if ($directory -and -not (Test-Path -LiteralPath $directory)) { $null = New-Item -ItemType Directory -Path $directory -Force }
        $export = Export-ExchangeCertificate -Server 'EXCH01' -Thumbprint $thumbprint -BinaryEncoded -Password $ExchCert.Secrets['backupPassword']
        [System.IO.File]::WriteAllBytes($path, [byte[]]$export.FileData)
        $written = Read-ExchCertPfx -Bytes ([System.IO.File]::ReadAllBytes($path)) -Password $ExchCert.Secrets['backupPassword']
        if ($written.Thumbprint -ne $thumbprint -or -not $written.HasPrivateKey) { throw ('exch-cert: the backup in ' + $path + ' does not hold certificate ' + $thumbprint + ' with its private key') }
        Write-Host ('exch-cert: backed up ' + $thumbprint + ' to ' + $path)
    }
    Set-ExchCertOutput -Name 'path' -Value $path
}

# [11/11] remove-old: Remove the old certificate
#   known at run time: steps.find-old.outputs.thumbprint, steps.import.outputs.thumbprint
#   exch-cert: asks for confirmation (destructive)
Invoke-ExchCertStep -Id 'remove-old' -Body {
    $thumbprint = (Get-ExchCertOutput -Step 'find-old' -Name 'thumbprint')
    $replacement = (Get-ExchCertOutput -Step 'import' -Name 'thumbprint')
    if ($replacement -eq $thumbprint) {
        Write-Host ('exch-cert: ' + $thumbprint + ' is also the replacement certificate; nothing to remove')
        Set-ExchCertUnchanged
        return
    }
    $null = Get-ExchangeCertificate -Server 'EXCH01' -Thumbprint $replacement
    $certificate = Get-ExchangeCertificate -Server 'EXCH01' -Thumbprint $thumbprint -ErrorAction 'SilentlyContinue'
    if (-not $certificate) {
        Write-Host ('exch-cert: ' + $thumbprint + ' is not in the store; nothing to remove')
        Set-ExchCertUnchanged
        return
    }
    $inUse = @()
    if ([string](Get-TransportService -Identity 'EXCH01').InternalTransportCertificateThumbprint -eq $thumbprint) { $inUse += 'the internal transport certificate (Set-TransportService -InternalTransportCertificateThumbprint)' }
    $auth = Get-AuthConfig
    if ([string]$auth.CurrentCertificateThumbprint -eq $thumbprint -or [string]$auth.NextCertificateThumbprint -eq $thumbprint) { $inUse += 'the OAuth (Auth) certificate' }
    $bindings = @(Invoke-ExchCertHost -Server 'EXCH01' -ArgumentList @(,$thumbprint) -ScriptBlock {
        param($Thumbprint)
        $ErrorActionPreference = 'Stop'
        if (-not (Get-Command -Name 'Get-WebBinding' -ErrorAction SilentlyContinue)) { Import-Module WebAdministration }
        @(Get-WebBinding -Protocol 'https' | Where-Object { [string]$_.certificateHash -eq $Thumbprint } | ForEach-Object { [string]$_.ItemXPath + ' ' + [string]$_.bindingInformation })
    })
    if ($bindings.Count -gt 0) { $inUse += ('bound in IIS: ' + ($bindings -join '; ')) }
    if ($inUse.Count -gt 0) { throw ('exch-cert: not removing ' + $thumbprint + ', it is still in use as ' + ($inUse -join ' and ') + '. Move that use to another certificate first.') }
    Remove-ExchangeCertificate -Server 'EXCH01' -Thumbprint $thumbprint -Confirm:$false
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
    Invoke-ExchCertHost -Server 'EXCH01' -ArgumentList @() -ScriptBlock {
        param()
        $ErrorActionPreference = 'Stop'
        $output = iisreset /noforce
        if ($LASTEXITCODE -ne 0) { throw ('exch-cert: iisreset failed with exit code ' + $LASTEXITCODE + ': ' + (@($output) -join ' ')) }
        Write-Host ('exch-cert: ' + (@($output) -join ' '))
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
if ($global:ExchCert.Session) {
    Remove-PSSession -Session $global:ExchCert.Session
    $global:ExchCert.Session = $null
}
}
