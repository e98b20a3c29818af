#Requires -Version 5.1
# exch-cert 0.0.0-test plan for runbook validate-exchange (test.yaml)
# Read-only checks before and after a maintenance window: which certificates the Default Web Site (443) and the Exchange Back End (444) serve, and whether every required Exchange service runs. Changes nothing.
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
#   server = 'EXCH01'

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
# [1/3] front-end: Certificate served by Default Web Site *:443
Invoke-ExchCertStep -Id 'front-end' -ReadOnly -Body {
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

# [2/3] back-end: Certificate served by Exchange Back End *:444
Invoke-ExchCertStep -Id 'back-end' -ReadOnly -Body {
    $thumbprint = [string](Invoke-ExchCertHost -Server 'EXCH01' -ArgumentList @('Exchange Back End', 444, '*', $false) -ScriptBlock {
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

# [3/3] health: Check that the required Exchange services run on EXCH01
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
