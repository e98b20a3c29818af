#Requires -Version 5.1
# exch-cert 0.0.0-test plan for runbook new-self-signed-certificate (test.yaml)
# Create an Exchange self-signed certificate for the server (the seed's optional step), for example to renew the certificate of the Exchange Back End site (port 444). With bindBackEnd it is bound to Exchange Back End *:444 and IIS is restarted.
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
#   server       = 'EXCH01'
#   fqdn         = 'exch01.contoso.local'
#   friendlyName = 'Exchange Certificate' (default)
#   bindBackEnd  = $true
# Known only at run time (the script reads them with Get-ExchCertOutput):
#   steps.create.outputs.thumbprint

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

# Connection: Exchange remote PowerShell (cmdlets already loaded, as in the Exchange Management Shell, are used as they are)
if (-not (Get-Command -Name 'Get-ExchangeCertificate' -ErrorAction SilentlyContinue)) {
    $session = @{ ConfigurationName = 'Microsoft.Exchange'; ConnectionUri = 'http://EXCH01/PowerShell/'; Authentication = 'Kerberos' }
    if ($global:ExchCert.Credential) { $session.Credential = $global:ExchCert.Credential }
    $global:ExchCert.Session = New-PSSession @session
    $null = Import-Module (Import-PSSession -Session $global:ExchCert.Session -DisableNameChecking -AllowClobber) -Global -DisableNameChecking
}

# ---- steps ----
try {
# [1/4] create: Create the self-signed certificate
#   exch-cert: timeout 5m
Invoke-ExchCertStep -Id 'create' -Body {
    $certificate = New-ExchangeCertificate -Server 'EXCH01' -SubjectName 'CN=EXCH01' -DomainName @('EXCH01','exch01.contoso.local') -FriendlyName 'Exchange Certificate' -PrivateKeyExportable $true -KeySize 2048 -Services 'None' -Force
    Write-Host ('exch-cert: created ' + $certificate.Thumbprint + ' for ' + (@($certificate.CertificateDomains) -join ', '))
    Set-ExchCertOutput -Name 'thumbprint' -Value ([string]$certificate.Thumbprint)
}

# [2/4] bind-back-end: Bind the new certificate to Exchange Back End *:444
#   known at run time: steps.create.outputs.thumbprint
Invoke-ExchCertStep -Id 'bind-back-end' -Body {
    $result = Invoke-ExchCertHost -Server 'EXCH01' -ArgumentList @('Exchange Back End', 444, '*', (Get-ExchCertOutput -Step 'create' -Name 'thumbprint')) -ScriptBlock {
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

# [3/4] iis-reset: Restart IIS on EXCH01 (iisreset /noforce)
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

# [4/4] health: Check that the required Exchange services run on EXCH01
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
}
catch {
    $exchCertFailure = $_
    Write-Host ('exch-cert: stopped: ' + $exchCertFailure.Exception.Message)
    throw $exchCertFailure
}
finally {
# ---- epilogue: disconnect ----
if ($global:ExchCert.Session) {
    Remove-PSSession -Session $global:ExchCert.Session
    $global:ExchCert.Session = $null
}
}
