<#
ExchCertSimulator: a simulated Exchange Server for exch-cert
=============================================================

A PowerShell module that provides the Exchange, IIS and service cmdlets an
exch-cert renewal script calls, acting on a JSON state file instead of a real
server. Admins use it to rehearse a maintenance window; the exch-cert tests run
real compiled runbooks against it (PowerShell 7 on Linux). It is written for
Windows PowerShell 5.1 as well (no PowerShell 7-only syntax; .NET Framework
4.7.2 APIs).

Quick start
-----------
    Import-Module ./ExchCertSimulator.psm1 -DisableNameChecking
    New-ExchCertSimulatorState -Path ./exch01.json            # EXCH01, mail.contoso.com
    $env:EXCH_CERT_SIMULATOR_STATE = (Resolve-Path ./exch01.json).Path
    $pw = Read-Host -AsSecureString 'PFX password'
    New-ExchCertSimulatorPfx -Path ./new.pfx -Password $pw -DnsName mail.contoso.com, autodiscover.contoso.com
    Get-ExchangeCertificate
    # exch-cert renew ... --connect module:/path/to/ExchCertSimulator.psm1 --dry-run --output plan.ps1

State file ($env:EXCH_CERT_SIMULATOR_STATE)
-------------------------------------------
Every simulated command loads the file, logs the call, applies faults, acts,
and saves it again atomically (a temporary file in the same folder, then a
rename), so a process killed mid-command never leaves half a file. One
process at a time: there is no locking between concurrent processes.

    version        1
    server         name, fqdn, domain, site, edition, adminDisplayVersion, serverRole
    certificates[] thumbprint, subject, issuer, certificateDomains[], services[]
                   (stored services; IIS is NOT stored, it is derived from the IIS
                   bindings), notBefore, notAfter (ISO 8601 UTC), serialNumber,
                   publicKeySize, hasPrivateKey, privateKeyExportable, isSelfSigned,
                   friendlyName, rootCAType, pfx (base64 PKCS#12 holding the key,
                   protected by the module's internal password $script:KeyPassword)
    transport      internalTransportCertificateThumbprint
    authConfig     currentCertificateThumbprint, nextCertificateThumbprint,
                   previousCertificateThumbprint
    iis            sites[] (name, id, requireSsl, bindings[]: protocol,
                   bindingInformation 'ip:port:host', certificateHash,
                   certificateStoreName), resets, lastResetAt
    pop, imap      x509CertificateName (configured), activeCertificateName
                   (effective), services[] (the two services to restart),
                   pendingRestart[] (services not yet restarted since the change)
    services[]     name, displayName, status (Running/Stopped), startType
    roles[]        role, requiredServices[] (for Test-ServiceHealth)
    strict         realism switches, both true unless set to false (see the end of
                   this comment): setTransportService, addSslCertificate
    faults[]       injected faults, see below
    calls[]        command, parameters (names and non-secret values; passwords
                   and SecureStrings are '<redacted>', byte arrays '<N bytes>'), at

Faults
------
    { "command": "Enable-ExchangeCertificate", "action": "throw", "message": "...", "times": 1 }
        The command fails before it changes anything (terminating error; add
        "terminating": false for a non-terminating one, "after": true to fail
        after the change was made and saved).
    { "command": "Test-ServiceHealth", "action": "hang", "seconds": 600 }
        A plain Start-Sleep, then the command runs normally.
    { "command": "iisreset", "action": "exit", "code": 1, "message": "..." }
        iisreset prints the message and sets $LASTEXITCODE. For any other
        command "exit" ends the PowerShell process with that code (a crash).
    { "service": "MSExchangeTransport", "action": "wont-start" }   (also "wont-stop")
        Starting the service fails and it stays Stopped, so WaitForStatus
        times out.
    "times" counts down on every use and the fault is removed at 0; without
    "times" it stays forever. "command" also matches the method names
    AddSslCertificate, RemoveSslCertificate and WaitForStatus.

What is simulated, and what is simplified
-----------------------------------------
- Certificates are real: generated with .NET CertificateRequest, imported from
  the PFX bytes (a wrong password fails), exported as real PFX files.
- Errors honour -ErrorAction and the caller's $ErrorActionPreference like
  compiled cmdlets do (module functions normally see only the global
  preference); "not found" and similar errors are non-terminating.
- -WhatIf/-Confirm work; Remove-ExchangeCertificate has ConfirmImpact High, so
  without -Confirm:$false it prompts, which fails in a -NonInteractive session.
- Enable-ExchangeCertificate services are additive. IIS moves: the Default Web
  Site *:443 binding gets the certificate, and a certificate's IIS service is
  shown while any https binding uses it. SMTP: the certificate becomes the
  internal transport certificate; when it replaces another one, the command
  asks "Overwrite the existing default SMTP certificate?" (ShouldContinue)
  unless -Force, which fails under -NonInteractive. POP/IMAP are refused for a
  wildcard subject (real Exchange words this as a warning and skips them).
  POP/IMAP do not change Set-PopSettings/Set-ImapSettings.
- Remove-ExchangeCertificate refuses the internal transport, current/next Auth
  and IIS-bound certificates (real Exchange refuses the first; the others are
  safety nets so a script that would break OWA/EMS fails loudly here).
- Simplified: a single server; no Send/Receive connectors, Edge subscriptions,
  service dependencies, chain trust (Status is only Valid or DateInvalid),
  -GenerateRequest or CNG/ECC keys; Test-ServiceHealth checks the roles' required
  services that start automatically; iisreset restarts IISADMIN, W3SVC and WAS.
- Set-TransportService -InternalTransportCertificateThumbprint fails with
  PowerShell's "A parameter cannot be found" error, as on real Exchange (the
  property is read-only; Enable-ExchangeCertificate -Services SMTP -Force on a
  certificate is how it changes). strict.setTransportService = false accepts it.
- AddSslCertificate fails on a binding that already has a certificate, the way
  http.sys refuses to add an SSL binding that exists (ERROR_ALREADY_EXISTS,
  0x800700B7) unless RemoveSslCertificate() is called first (unverified for
  IIS 10). strict.addSslCertificate = false lets it replace the certificate.
#>

Set-StrictMode -Version 3.0

#region Constants

$script:StateVersion = 1

# Not a secret: it only keeps the stored private keys in real PKCS#12 form, so
# Export-ExchangeCertificate can re-encrypt them with the caller's password.
$script:KeyPassword = 'exch-cert-simulator-internal-key-protection'

# The order Exchange prints AllowedServices in ('IMAP, POP, IIS, SMTP').
$script:ServiceOrder = @('IMAP', 'POP', 'UM', 'IIS', 'SMTP', 'Federation', 'UMCallRouter')

$script:ServerRoleText = 'Mailbox'
$script:DefaultSiteName = 'Default Web Site'
$script:IisServices = @('IISADMIN', 'WAS', 'W3SVC')

# PowerShell 7.5+ turns ISO 8601 strings into DateTime unless told not to.
$script:JsonKeepsDates = (Get-Command -Name ConvertFrom-Json).Parameters.ContainsKey('DateKind')

# Issuing CAs made during this session, by distinguished name (key generation is the slow part).
$script:Issuers = @{}

#endregion

#region Small helpers

function Get-SimValue {
    # Reads an optional property of a JSON object (strict mode forbids reading missing ones).
    param($Object, [string]$Name, $Default = $null)
    if ($null -eq $Object) { return $Default }
    if ($Object -is [System.Collections.IDictionary]) {
        if ($Object.Contains($Name)) { return $Object[$Name] }
        return $Default
    }
    $property = $Object.PSObject.Properties[$Name]
    if ($null -ne $property) { return $property.Value }
    return $Default
}

function Set-SimValue {
    param($Object, [string]$Name, $Value)
    Add-Member -InputObject $Object -MemberType NoteProperty -Name $Name -Value $Value -Force
}

function Test-SimStrict {
    # Opt-in realism switches in state.strict (see the header).
    param($State, [string]$Name)
    return [bool](Get-SimValue (Get-SimValue $State 'strict' $null) $Name $true)
}

function Get-SimNow {
    return [datetime]::UtcNow
}

function ConvertTo-SimDate {
    # State dates are ISO 8601 UTC strings; PowerShell 7 may already have parsed them.
    param($Value)
    if ($Value -is [datetime]) { return $Value.ToUniversalTime() }
    $styles = [System.Globalization.DateTimeStyles]::RoundtripKind
    return [datetime]::Parse([string]$Value, [System.Globalization.CultureInfo]::InvariantCulture, $styles).ToUniversalTime()
}

function Format-SimDate {
    param([datetime]$Value)
    return $Value.ToUniversalTime().ToString('o', [System.Globalization.CultureInfo]::InvariantCulture)
}

function ConvertTo-SimThumbprint {
    param([string]$Thumbprint)
    if ($null -eq $Thumbprint) { return '' }
    return ($Thumbprint -replace '[\s:]', '').ToUpperInvariant()
}

function Test-SimWildcardSubject {
    param([string]$Subject)
    return ($Subject -match '(^|,\s*)CN=\*\.')
}

function Set-SimDefaultDisplay {
    # What Format-Table shows by default, like the real type's view.
    param($Object, [string[]]$Property)
    # Types known to this session (ServiceController...) bring their own view.
    if ($null -ne $Object.PSObject.Members['PSStandardMembers']) { return }
    $set = New-Object -TypeName System.Management.Automation.PSPropertySet -ArgumentList @('DefaultDisplayPropertySet', $Property)
    $members = [System.Management.Automation.PSMemberInfo[]]@($set)
    Add-Member -InputObject $Object -MemberType MemberSet -Name PSStandardMembers -Value $members -Force
}

function ConvertTo-SimPlainText {
    param([System.Security.SecureString]$SecureString)
    if ($null -eq $SecureString) { return '' }
    return (New-Object -TypeName System.Net.NetworkCredential -ArgumentList @('', $SecureString)).Password
}

function Resolve-SimPath {
    param([string]$Path)
    return $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
}

#endregion

#region State file

function Get-SimStatePath {
    $path = [Environment]::GetEnvironmentVariable('EXCH_CERT_SIMULATOR_STATE')
    if ([string]::IsNullOrEmpty($path)) {
        throw 'ExchCertSimulator: EXCH_CERT_SIMULATOR_STATE is not set. Create a state with New-ExchCertSimulatorState -Path FILE and put the path of FILE in $env:EXCH_CERT_SIMULATOR_STATE.'
    }
    $path = Resolve-SimPath -Path $path
    if (-not [System.IO.File]::Exists($path)) {
        throw ('ExchCertSimulator: the state file ' + $path + ' (EXCH_CERT_SIMULATOR_STATE) does not exist. Create it with New-ExchCertSimulatorState.')
    }
    return $path
}

function Read-SimState {
    param([Parameter(Mandatory = $true)][string]$Path)
    $text = [System.IO.File]::ReadAllText($Path)
    $convert = @{ InputObject = $text; ErrorAction = 'Stop' }
    if ($script:JsonKeepsDates) { $convert.DateKind = 'String' }
    $state = ConvertFrom-Json @convert
    if ([int](Get-SimValue $state 'version' 0) -ne $script:StateVersion) {
        throw ('ExchCertSimulator: ' + $Path + ' is not a version ' + $script:StateVersion + ' simulator state file.')
    }
    return $state
}

function Save-SimState {
    # Write a temporary file next to the state, flush it, then rename it over the
    # state: readers see the old or the new file, never a half-written one.
    param([Parameter(Mandatory = $true)]$State, [Parameter(Mandatory = $true)][string]$Path)
    $json = ConvertTo-Json -InputObject $State -Depth 32
    $bytes = (New-Object -TypeName System.Text.UTF8Encoding -ArgumentList @($false)).GetBytes($json)
    $directory = [System.IO.Path]::GetDirectoryName($Path)
    $temp = [System.IO.Path]::Combine($directory, ('.' + [System.IO.Path]::GetFileName($Path) + '.' + [guid]::NewGuid().ToString('N') + '.tmp'))
    $stream = New-Object -TypeName System.IO.FileStream -ArgumentList @($temp, [System.IO.FileMode]::CreateNew, [System.IO.FileAccess]::Write, [System.IO.FileShare]::None)
    try {
        $stream.Write($bytes, 0, $bytes.Length)
        $stream.Flush($true)
    } finally {
        $stream.Dispose()
    }
    try {
        if ([System.IO.File]::Exists($Path)) {
            [System.IO.File]::Replace($temp, $Path, [NullString]::Value)
        } else {
            [System.IO.File]::Move($temp, $Path)
        }
    } catch {
        if ([System.IO.File]::Exists($temp)) { [System.IO.File]::Delete($temp) }
        throw
    }
}

#endregion

#region Calls log, faults and errors

function ConvertTo-SimLogValue {
    # What the calls log may keep of a parameter value: never a secret, never key material.
    param([string]$Name, $Value)
    if ($null -eq $Value) { return $null }
    if ($Value -is [System.Security.SecureString] -or $Value -is [System.Management.Automation.PSCredential] -or $Name -match 'Password|Credential|Secret') {
        return '<redacted>'
    }
    if ($Value -is [byte[]]) { return ('<' + $Value.Length + ' bytes>') }
    if ($Value -is [System.Management.Automation.SwitchParameter]) { return [bool]$Value.IsPresent }
    if ($Value -is [bool] -or $Value -is [int] -or $Value -is [long] -or $Value -is [double]) { return $Value }
    if ($Value -is [datetime]) { return (Format-SimDate -Value $Value) }
    if ($Value -is [timespan]) { return $Value.TotalSeconds }
    if ($Value -is [string]) { return $Value }
    if ($Value -is [System.Collections.IEnumerable]) {
        $items = @(foreach ($item in $Value) { ConvertTo-SimLogValue -Name $Name -Value $item })
        return , $items
    }
    return [string]$Value
}

function Add-SimCall {
    param($State, [string]$Command, [System.Collections.IDictionary]$Parameters)
    $logged = [ordered]@{}
    if ($null -ne $Parameters) {
        foreach ($key in @($Parameters.Keys)) {
            $logged[[string]$key] = ConvertTo-SimLogValue -Name ([string]$key) -Value $Parameters[$key]
        }
    }
    $entry = [pscustomobject][ordered]@{ command = $Command; parameters = [pscustomobject]$logged; at = (Format-SimDate -Value (Get-SimNow)) }
    Set-SimValue $State 'calls' @(@(Get-SimValue $State 'calls' @()) + $entry)
}

function Use-SimFault {
    # Finds the first fault for a command (or for a service and action), counts
    # it down, drops it when it reaches zero, and returns it.
    param($State, [string]$Command, [string]$Service, [string]$Action)
    $faults = @(Get-SimValue $State 'faults' @())
    foreach ($fault in $faults) {
        if ($Command) {
            if ([string](Get-SimValue $fault 'command' '') -ne $Command) { continue }
        } else {
            if ([string](Get-SimValue $fault 'service' '') -ne $Service) { continue }
            if ([string](Get-SimValue $fault 'action' '') -ne $Action) { continue }
        }
        $times = Get-SimValue $fault 'times' $null
        if ($null -ne $times) {
            if ([int]$times -le 1) {
                Set-SimValue $State 'faults' @($faults | Where-Object { -not [object]::ReferenceEquals($_, $fault) })
            } else {
                Set-SimValue $fault 'times' ([int]$times - 1)
            }
            if ([int]$times -le 0) { continue }
        }
        return $fault
    }
    return $null
}

function New-SimError {
    # Builds an error record. Non-terminating ones honour -ErrorAction (see Write-SimError).
    param(
        [Parameter(Mandatory = $true)][string]$Message,
        [string]$ErrorId = 'ExchCertSimulatorError',
        [System.Management.Automation.ErrorCategory]$Category = [System.Management.Automation.ErrorCategory]::InvalidOperation,
        $Target = $null,
        [switch]$Terminating,
        [System.Exception]$Exception
    )
    if ($null -eq $Exception) { $Exception = New-Object -TypeName System.InvalidOperationException -ArgumentList @($Message) }
    if (-not $Terminating) { $Exception.Data['ExchCertSimulator.NonTerminating'] = $true }
    return (New-Object -TypeName System.Management.Automation.ErrorRecord -ArgumentList @($Exception, $ErrorId, $Category, $Target))
}

function Write-SimError {
    # Reports an error the way a compiled cmdlet would: non-terminating errors
    # follow -ErrorAction, else the CALLER's $ErrorActionPreference (a module
    # function would otherwise only see the global one); anything else is a
    # terminating error of the command.
    param([Parameter(Mandatory = $true)][System.Management.Automation.PSCmdlet]$Cmdlet, [Parameter(Mandatory = $true)][System.Management.Automation.ErrorRecord]$ErrorRecord)
    if ($ErrorRecord.Exception.Data.Contains('ExchCertSimulator.NonTerminating')) {
        $bound = $Cmdlet.MyInvocation.BoundParameters
        if ($bound.ContainsKey('ErrorAction')) {
            $ErrorActionPreference = $bound['ErrorAction']
        } else {
            $ErrorActionPreference = $Cmdlet.SessionState.PSVariable.GetValue('ErrorActionPreference')
        }
        $Cmdlet.WriteError($ErrorRecord)
        return
    }
    $Cmdlet.ThrowTerminatingError($ErrorRecord)
}

function Test-SimShouldProcess {
    # ShouldProcess with the caller's -WhatIf/-Confirm preferences, as a compiled cmdlet sees them.
    param([System.Management.Automation.PSCmdlet]$Cmdlet, [string]$Target, [string]$Action)
    $bound = $Cmdlet.MyInvocation.BoundParameters
    if (-not $bound.ContainsKey('WhatIf')) { $WhatIfPreference = $Cmdlet.SessionState.PSVariable.GetValue('WhatIfPreference') }
    if (-not $bound.ContainsKey('Confirm')) { $ConfirmPreference = $Cmdlet.SessionState.PSVariable.GetValue('ConfirmPreference') }
    return $Cmdlet.ShouldProcess($Target, $Action)
}

function Enter-SimCommand {
    # Every simulated command starts here: load the state, log the call, apply
    # a fault for this command, save. Returns the context the command works on.
    param(
        [System.Management.Automation.PSCmdlet]$Cmdlet,
        [string]$Command,
        [System.Collections.IDictionary]$Parameters
    )
    if ($null -ne $Cmdlet) {
        if (-not $Command) { $Command = $Cmdlet.MyInvocation.MyCommand.Name }
        if ($null -eq $Parameters) { $Parameters = $Cmdlet.MyInvocation.BoundParameters }
    }
    $path = Get-SimStatePath
    $state = Read-SimState -Path $path
    Add-SimCall -State $state -Command $Command -Parameters $Parameters
    $fault = Use-SimFault -State $state -Command $Command
    Save-SimState -State $state -Path $path
    $context = [pscustomobject]@{ Command = $Command; Path = $path; State = $state; Fault = $fault; Cmdlet = $Cmdlet }
    if ($null -ne $fault) { Invoke-SimFault -Context $context -Before }
    return $context
}

function Exit-SimCommand {
    # Saves the changes of a command that succeeded, then applies an "after" fault.
    param([Parameter(Mandatory = $true)]$Context, [switch]$NoSave)
    if (-not $NoSave) { Save-SimState -State $Context.State -Path $Context.Path }
    if ($null -ne $Context.Fault) { Invoke-SimFault -Context $Context }
}

function Invoke-SimFault {
    param([Parameter(Mandatory = $true)]$Context, [switch]$Before)
    $fault = $Context.Fault
    $action = [string](Get-SimValue $fault 'action' 'throw')
    $after = [bool](Get-SimValue $fault 'after' $false)
    $message = [string](Get-SimValue $fault 'message' '')
    if (-not $message) { $message = 'ExchCertSimulator: injected fault in ' + $Context.Command }
    switch ($action) {
        'hang' {
            if ($Before) { Start-Sleep -Milliseconds ([int]([double](Get-SimValue $fault 'seconds' 3600) * 1000)) }
        }
        'throw' {
            if ($Before -ne $after) {
                $terminating = [bool](Get-SimValue $fault 'terminating' $true)
                throw (New-SimError -Message $message -ErrorId 'InjectedFault' -Terminating:$terminating)
            }
        }
        'exit' {
            # iisreset turns this into an exit code itself; anything else "crashes" the shell.
            if ($Before -and $Context.Command -ne 'iisreset') { [Environment]::Exit([int](Get-SimValue $fault 'code' 1)) }
        }
        default {
            throw ('ExchCertSimulator: unknown fault action ''' + $action + ''' for ' + $Context.Command + ' (use throw, hang or exit)')
        }
    }
}

#endregion

#region Certificates

function Get-SimIssuer {
    # A CA certificate with its key, made once per session for each issuer name.
    param([string]$Name)
    if (-not $script:Issuers.ContainsKey($Name)) {
        $now = Get-SimNow
        $script:Issuers[$Name] = New-SimX509Certificate -Subject $Name -NotBefore $now.AddYears(-10) -NotAfter $now.AddYears(10) -CertificateAuthority
    }
    return $script:Issuers[$Name]
}

function New-SimX509Certificate {
    # A real RSA certificate with its private key: self-signed, or issued by a
    # generated CA named -Issuer (so Issuer and IsSelfSigned look like a public certificate).
    param(
        [Parameter(Mandatory = $true)][string]$Subject,
        [string[]]$DnsName = @(),
        [Parameter(Mandatory = $true)][datetime]$NotBefore,
        [Parameter(Mandatory = $true)][datetime]$NotAfter,
        [int]$KeySize = 2048,
        [string]$Issuer,
        [switch]$CertificateAuthority
    )
    $x509 = 'System.Security.Cryptography.X509Certificates'
    $rsa = [System.Security.Cryptography.RSA]::Create($KeySize)
    $request = New-Object -TypeName "$x509.CertificateRequest" -ArgumentList @($Subject, $rsa, [System.Security.Cryptography.HashAlgorithmName]::SHA256, [System.Security.Cryptography.RSASignaturePadding]::Pkcs1)
    $extensions = $request.CertificateExtensions
    $extensions.Add((New-Object -TypeName "$x509.X509BasicConstraintsExtension" -ArgumentList @([bool]$CertificateAuthority, $false, 0, $true)))
    if ($CertificateAuthority) {
        $usage = [System.Security.Cryptography.X509Certificates.X509KeyUsageFlags]'KeyCertSign, CrlSign, DigitalSignature'
        $extensions.Add((New-Object -TypeName "$x509.X509KeyUsageExtension" -ArgumentList @($usage, $true)))
    } else {
        $usage = [System.Security.Cryptography.X509Certificates.X509KeyUsageFlags]'DigitalSignature, KeyEncipherment'
        $extensions.Add((New-Object -TypeName "$x509.X509KeyUsageExtension" -ArgumentList @($usage, $true)))
        $purposes = New-Object -TypeName System.Security.Cryptography.OidCollection
        $null = $purposes.Add((New-Object -TypeName System.Security.Cryptography.Oid -ArgumentList @('1.3.6.1.5.5.7.3.1')))
        $null = $purposes.Add((New-Object -TypeName System.Security.Cryptography.Oid -ArgumentList @('1.3.6.1.5.5.7.3.2')))
        $extensions.Add((New-Object -TypeName "$x509.X509EnhancedKeyUsageExtension" -ArgumentList @($purposes, $false)))
    }
    if (@($DnsName).Count -gt 0) {
        $names = New-Object -TypeName "$x509.SubjectAlternativeNameBuilder"
        foreach ($name in $DnsName) { $names.AddDnsName($name) }
        $extensions.Add($names.Build($false))
    }
    $extensions.Add((New-Object -TypeName "$x509.X509SubjectKeyIdentifierExtension" -ArgumentList @($request.PublicKey, $false)))

    $from = [System.DateTimeOffset]$NotBefore.ToUniversalTime()
    $until = [System.DateTimeOffset]$NotAfter.ToUniversalTime()
    if (-not $Issuer) { return $request.CreateSelfSigned($from, $until) }

    $ca = Get-SimIssuer -Name $Issuer
    $serial = New-Object -TypeName byte[] -ArgumentList 16
    [System.Security.Cryptography.RandomNumberGenerator]::Create().GetBytes($serial)
    $serial[0] = $serial[0] -band 0x7F
    $issued = $request.Create($ca, $from, $until, $serial)
    return [System.Security.Cryptography.X509Certificates.RSACertificateExtensions]::CopyWithPrivateKey($issued, $rsa)
}

function Get-SimDnsName {
    # The certificate's DNS names (subject alternative names), else its CN when that is a host name.
    param([System.Security.Cryptography.X509Certificates.X509Certificate2]$Certificate)
    $names = New-Object -TypeName System.Collections.Generic.List[string]
    foreach ($extension in $Certificate.Extensions) {
        if ($extension.Oid.Value -ne '2.5.29.17') { continue }
        # Windows formats 'DNS Name=a, DNS Name=b'; OpenSSL 'DNS:a, DNS:b'.
        foreach ($match in [regex]::Matches($extension.Format($false), '(?:DNS Name=|DNS:)\s*([^,\s]+)')) {
            if (-not $names.Contains($match.Groups[1].Value)) { $names.Add($match.Groups[1].Value) }
        }
    }
    if ($names.Count -eq 0) {
        $cn = $Certificate.GetNameInfo([System.Security.Cryptography.X509Certificates.X509NameType]::SimpleName, $false)
        if ($cn -match '^[A-Za-z0-9*][A-Za-z0-9.*-]*$') { $names.Add($cn) }
    }
    return $names.ToArray()
}

function ConvertTo-SimCertificateRecord {
    # The state's record of a certificate; the key travels in 'pfx' under the internal password.
    param(
        [Parameter(Mandatory = $true)][System.Security.Cryptography.X509Certificates.X509Certificate2]$Certificate,
        [string]$FriendlyName = '',
        [bool]$PrivateKeyExportable = $false,
        [string[]]$Services = @(),
        [string]$RootCAType
    )
    $selfSigned = ($Certificate.Subject -eq $Certificate.Issuer)
    if (-not $RootCAType) { if ($selfSigned) { $RootCAType = 'Registry' } else { $RootCAType = 'ThirdParty' } }
    $pfx = $Certificate.Export([System.Security.Cryptography.X509Certificates.X509ContentType]::Pkcs12, [string]$script:KeyPassword)
    return [pscustomobject][ordered]@{
        thumbprint           = $Certificate.Thumbprint.ToUpperInvariant()
        subject              = $Certificate.Subject
        issuer               = $Certificate.Issuer
        certificateDomains   = @(Get-SimDnsName -Certificate $Certificate)
        services             = @($Services | Where-Object { $_ -and $_ -ne 'IIS' -and $_ -ne 'None' })
        notBefore            = Format-SimDate -Value $Certificate.NotBefore
        notAfter             = Format-SimDate -Value $Certificate.NotAfter
        serialNumber         = $Certificate.SerialNumber
        publicKeySize        = 8 * [System.Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPublicKey($Certificate).ExportParameters($false).Modulus.Length
        hasPrivateKey        = $Certificate.HasPrivateKey
        privateKeyExportable = $PrivateKeyExportable
        isSelfSigned         = $selfSigned
        friendlyName         = $FriendlyName
        rootCAType           = $RootCAType
        pfx                  = [Convert]::ToBase64String($pfx)
    }
}

function Read-SimX509 {
    # The stored certificate as an X509Certificate2 with its (exportable) key.
    param([Parameter(Mandatory = $true)]$Record)
    $bytes = [Convert]::FromBase64String([string]$Record.pfx)
    $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]::Exportable
    return [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($bytes, [string]$script:KeyPassword, $flags)
}

function Find-SimCertificate {
    param($State, [string]$Thumbprint)
    $wanted = ConvertTo-SimThumbprint -Thumbprint $Thumbprint
    foreach ($record in @($State.certificates)) {
        if ($record.thumbprint -eq $wanted) { return $record }
    }
    return $null
}

function Get-SimCertificate {
    # The certificate, or the error Exchange gives for an unknown thumbprint.
    param($State, [string]$Thumbprint)
    $record = Find-SimCertificate -State $State -Thumbprint $Thumbprint
    if ($null -eq $record) {
        throw (New-SimError -Message ('The certificate with thumbprint ' + (ConvertTo-SimThumbprint -Thumbprint $Thumbprint) + ' was not found.') -ErrorId 'CertificateNotFound' -Category ObjectNotFound -Target $Thumbprint)
    }
    return $record
}

function Get-SimCertificateStatus {
    param($Record)
    $now = Get-SimNow
    if ((ConvertTo-SimDate $Record.notAfter) -lt $now -or (ConvertTo-SimDate $Record.notBefore) -gt $now) { return 'DateInvalid' }
    return 'Valid'
}

function Get-SimIisBinding {
    # Every https binding that uses the thumbprint, as 'site bindingInformation'.
    param($State, [string]$Thumbprint)
    $thumbprint = ConvertTo-SimThumbprint -Thumbprint $Thumbprint
    foreach ($site in @($State.iis.sites)) {
        foreach ($binding in @($site.bindings)) {
            if ($binding.protocol -eq 'https' -and (ConvertTo-SimThumbprint -Thumbprint ([string]$binding.certificateHash)) -eq $thumbprint) {
                $site.name + ' ' + $binding.bindingInformation
            }
        }
    }
}

function Get-SimServiceText {
    # Exchange's Services text: stored services, plus IIS while an https binding uses the certificate.
    param($State, $Record)
    $services = @($Record.services)
    if (@(Get-SimIisBinding -State $State -Thumbprint $Record.thumbprint).Count -gt 0) { $services += 'IIS' }
    $ordered = @($script:ServiceOrder | Where-Object { $services -contains $_ })
    if ($ordered.Count -eq 0) { return 'None' }
    return ($ordered -join ', ')
}

function ConvertTo-SimExchangeCertificate {
    # What Get-ExchangeCertificate returns, shaped like the object deserialized
    # from remote PowerShell (Services is a string there).
    param($State, $Record)
    $certificate = [pscustomobject][ordered]@{
        PSTypeName           = 'Deserialized.Microsoft.Exchange.Management.SystemConfigurationTasks.ExchangeCertificate'
        Identity             = $State.server.name + '\' + $Record.thumbprint
        Thumbprint           = [string]$Record.thumbprint
        Subject              = [string]$Record.subject
        Issuer               = [string]$Record.issuer
        CertificateDomains   = [string[]]@($Record.certificateDomains)
        Services             = Get-SimServiceText -State $State -Record $Record
        NotBefore            = (ConvertTo-SimDate $Record.notBefore).ToLocalTime()
        NotAfter             = (ConvertTo-SimDate $Record.notAfter).ToLocalTime()
        HasPrivateKey        = [bool]$Record.hasPrivateKey
        PrivateKeyExportable = [bool]$Record.privateKeyExportable
        IsSelfSigned         = [bool]$Record.isSelfSigned
        FriendlyName         = [string]$Record.friendlyName
        RootCAType           = [string]$Record.rootCAType
        PublicKeySize        = [int]$Record.publicKeySize
        SerialNumber         = [string]$Record.serialNumber
        Status               = Get-SimCertificateStatus -Record $Record
        ServerName           = [string]$State.server.name
    }
    Set-SimDefaultDisplay -Object $certificate -Property @('Thumbprint', 'Services', 'Subject')
    return $certificate
}

function Resolve-SimServiceList {
    # -Services accepts 'IIS,SMTP' as well as arrays, like the AllowedServices flags type.
    param([string[]]$Services)
    $allowed = @('None') + $script:ServiceOrder
    $result = New-Object -TypeName System.Collections.Generic.List[string]
    foreach ($item in @($Services)) {
        foreach ($part in ([string]$item -split ',')) {
            $name = $part.Trim()
            if (-not $name) { continue }
            $canonical = @($allowed | Where-Object { $_ -eq $name })
            if ($canonical.Count -eq 0) {
                throw (New-SimError -Terminating -Message ('Cannot bind parameter ''Services''. Cannot convert value "' + $name + '" to type "Microsoft.Exchange.Data.AllowedServices". Valid values: ' + ($allowed -join ', ') + '.') -ErrorId 'InvalidServices' -Category InvalidArgument -Target $name)
            }
            if ($canonical[0] -ne 'None' -and -not $result.Contains($canonical[0])) { $result.Add($canonical[0]) }
        }
    }
    return , $result.ToArray()
}

function Set-SimBindingCertificate {
    # Points an https binding at a certificate, creating the binding when missing.
    param($State, [string]$SiteName, [string]$BindingInformation, [string]$Thumbprint)
    $site = Get-SimSite -State $State -Name $SiteName
    $binding = @($site.bindings | Where-Object { $_.protocol -eq 'https' -and $_.bindingInformation -eq $BindingInformation })
    if ($binding.Count -eq 0) {
        $new = [pscustomobject][ordered]@{ protocol = 'https'; bindingInformation = $BindingInformation; sslFlags = 0; certificateHash = $Thumbprint; certificateStoreName = 'My' }
        $site.bindings = @(@($site.bindings) + $new)
        return
    }
    $binding[0].certificateHash = $Thumbprint
    $binding[0].certificateStoreName = 'My'
}

function Enable-SimCertificateService {
    # Enable-ExchangeCertificate's effect, shared with New-ExchangeCertificate -Services.
    # Everything is checked before anything changes.
    param($Context, $Record, [string[]]$Services, [bool]$Force, [bool]$DoNotRequireSsl)
    $state = $Context.State
    $thumbprint = $Record.thumbprint
    if (-not $Record.hasPrivateKey) {
        throw (New-SimError -Message ('The certificate with thumbprint ' + $thumbprint + ' doesn''t have a private key. Exchange can only enable certificates that have one.') -ErrorId 'NoPrivateKey' -Target $thumbprint)
    }
    if ((Get-SimCertificateStatus -Record $Record) -ne 'Valid') {
        throw (New-SimError -Message ('The certificate with thumbprint ' + $thumbprint + ' is not valid (status DateInvalid: expired or not valid yet) and can''t be enabled for services.') -ErrorId 'CertificateNotValid' -Target $thumbprint)
    }
    foreach ($protocol in @('POP', 'IMAP')) {
        if ($Services -contains $protocol -and (Test-SimWildcardSubject -Subject $Record.subject)) {
            $setCmdlet = 'Set-' + $protocol.Substring(0, 1) + $protocol.Substring(1).ToLowerInvariant() + 'Settings'
            throw (New-SimError -Message ('This certificate with thumbprint ' + $thumbprint + ' and subject ''' + $Record.subject + ''' cannot be used for ' + $protocol + ' SSL/TLS connections because the subject is not a Fully Qualified Domain Name (FQDN). Use command ' + $setCmdlet + ' to set X509CertificateName to the FQDN of the service.') -ErrorId 'WildcardNotAllowed' -Category InvalidArgument -Target $thumbprint)
        }
    }

    $makeInternal = $false
    if ($Services -contains 'SMTP') {
        $current = ConvertTo-SimThumbprint -Thumbprint ([string](Get-SimValue $state.transport 'internalTransportCertificateThumbprint' ''))
        if (-not $current) {
            $makeInternal = $true
        } elseif ($current -ne $thumbprint) {
            $makeInternal = $Force
            if (-not $Force) { $makeInternal = Confirm-SimSmtpOverwrite -Context $Context -Current $current -Record $Record }
        }
    }

    if ($makeInternal) { Set-SimValue $state.transport 'internalTransportCertificateThumbprint' $thumbprint }
    if ($Services -contains 'IIS') {
        Set-SimBindingCertificate -State $state -SiteName $script:DefaultSiteName -BindingInformation '*:443:' -Thumbprint $thumbprint
        Set-SimValue (Get-SimSite -State $state -Name $script:DefaultSiteName) 'requireSsl' (-not $DoNotRequireSsl)
    }
    $stored = @($Record.services)
    foreach ($service in $Services) {
        if ($service -ne 'IIS' -and $stored -notcontains $service) { $stored += $service }
    }
    $Record.services = @($stored)
}

function Confirm-SimSmtpOverwrite {
    # The prompt Exchange shows without -Force. Under -NonInteractive it cannot
    # be answered, and the command fails; in an interactive rehearsal the
    # answer decides whether the certificate becomes the default SMTP one.
    param($Context, [string]$Current, $Record)
    $currentRecord = Find-SimCertificate -State $Context.State -Thumbprint $Current
    $currentExpiry = ''
    if ($null -ne $currentRecord) { $currentExpiry = ' (expires ' + (ConvertTo-SimDate $currentRecord.notAfter).ToLocalTime().ToString() + ')' }
    $query = 'Overwrite the existing default SMTP certificate?' + [Environment]::NewLine + [Environment]::NewLine +
        'Current certificate: ''' + $Current + '''' + $currentExpiry + [Environment]::NewLine +
        'Replace it with certificate: ''' + $Record.thumbprint + ''' (expires ' + (ConvertTo-SimDate $Record.notAfter).ToLocalTime().ToString() + ')'
    try {
        return $Context.Cmdlet.ShouldContinue($query, 'Confirm')
    } catch {
        $reason = $_.Exception.Message
        if ($null -ne $_.Exception.InnerException) { $reason = $_.Exception.InnerException.Message }
        throw (New-SimError -Message ($query + [Environment]::NewLine + 'Confirmation required, but it cannot be given: ' + $reason + ' Use -Force to replace the default SMTP certificate without a prompt.') -ErrorId 'ConfirmationRequired' -Target $Record.thumbprint)
    }
}

#endregion

#region Server, sites, services

function Assert-SimServer {
    # -Server/-Identity must name the simulated server (its name or FQDN).
    param($State, [string]$Server)
    if (-not $Server) { return }
    $name = [string]$State.server.name
    $fqdn = [string]$State.server.fqdn
    $given = $Server.Split('\')[0]
    if ($given -ne $name -and $given -ne $fqdn) {
        throw (New-SimError -Message ('The operation couldn''t be performed because object ''' + $Server + ''' couldn''t be found on ''DC01.' + $State.server.domain + '''.') -ErrorId 'ServerNotFound' -Category ObjectNotFound -Target $Server)
    }
}

function Get-SimSite {
    param($State, [string]$Name)
    foreach ($site in @($State.iis.sites)) {
        if ($site.name -eq $Name) { return $site }
    }
    throw (New-SimError -Message ('Cannot find the IIS site ''' + $Name + '''.') -ErrorId 'SiteNotFound' -Category ObjectNotFound -Target $Name)
}

function Get-SimSiteXPath {
    param($Site)
    return ("/system.applicationHost/sites/site[@name='" + $Site.name + "' and @id='" + $Site.id + "']")
}

function Find-SimService {
    param($State, [string]$Name)
    foreach ($service in @($State.services)) {
        if ($service.name -eq $Name) { return $service }
    }
    return $null
}

function Resolve-SimService {
    # Service records for names that may hold wildcards; unknown names are reported in -Missing.
    param($State, [string[]]$Name, [ref]$Missing)
    $found = New-Object -TypeName System.Collections.Generic.List[object]
    $notFound = New-Object -TypeName System.Collections.Generic.List[string]
    foreach ($pattern in @($Name)) {
        $matched = @($State.services | Where-Object { $_.name -like $pattern })
        if ($matched.Count -eq 0) { $notFound.Add($pattern) }
        foreach ($service in $matched) { if (-not $found.Contains($service)) { $found.Add($service) } }
    }
    if ($null -ne $Missing) { $Missing.Value = $notFound.ToArray() }
    return , $found.ToArray()
}

function New-SimServiceNotFoundError {
    param([string]$Name)
    $message = 'Cannot find any service with service name ''' + $Name + '''.'
    $exception = New-Object -TypeName System.InvalidOperationException -ArgumentList @($message)
    return (New-SimError -Message $message -ErrorId 'NoServiceFoundForGivenName' -Category ObjectNotFound -Target $Name -Exception $exception)
}

function Get-SimServiceLabel {
    param($Service)
    return ($Service.displayName + ' (' + $Service.name + ')')
}

function Start-SimService {
    # Starts a service in the state. Returns $false when it cannot start (a
    # wont-start fault, or a disabled service); it is then left Stopped.
    param($State, $Service)
    if ($Service.status -eq 'Running') { return $true }
    if ($Service.startType -eq 'Disabled') { $Service.status = 'Stopped'; return $false }
    if ($null -ne (Use-SimFault -State $State -Service $Service.name -Action 'wont-start')) {
        $Service.status = 'Stopped'
        return $false
    }
    $Service.status = 'Running'
    Update-SimProtocolCertificate -State $State -ServiceName $Service.name
    return $true
}

function Stop-SimService {
    param($State, $Service)
    if ($Service.status -eq 'Stopped') { return $true }
    if ($null -ne (Use-SimFault -State $State -Service $Service.name -Action 'wont-stop')) { return $false }
    $Service.status = 'Stopped'
    return $true
}

function Update-SimProtocolCertificate {
    # POP/IMAP load a new X509CertificateName only once BOTH of their services
    # have started since the change.
    param($State, [string]$ServiceName)
    foreach ($key in @('pop', 'imap')) {
        $protocol = $State.$key
        $pending = @(Get-SimValue $protocol 'pendingRestart' @())
        if ($pending.Count -eq 0) { continue }
        $left = @($pending | Where-Object { $_ -ne $ServiceName })
        Set-SimValue $protocol 'pendingRestart' $left
        if ($left.Count -eq 0) {
            Set-SimValue $protocol 'activeCertificateName' ([string]$protocol.x509CertificateName)
            Set-SimValue $protocol 'activatedAt' (Format-SimDate -Value (Get-SimNow))
        }
    }
}

function ConvertTo-SimServiceController {
    # A Get-Service object: the properties scripts read, WaitForStatus and Refresh.
    param($Service)
    $controller = [pscustomobject][ordered]@{
        Name        = [string]$Service.name
        DisplayName = [string]$Service.displayName
        Status      = [string]$Service.status
        StartType   = [string]$Service.startType
        ServiceName = [string]$Service.name
        MachineName = '.'
    }
    # Added afterwards: PSTypeName in the literal would make PowerShell try to build a real ServiceController.
    $controller.PSObject.TypeNames.Insert(0, 'System.ServiceProcess.ServiceController')
    Add-Member -InputObject $controller -MemberType ScriptMethod -Name WaitForStatus -Value {
        param($DesiredStatus, $Timeout)
        Wait-SimServiceStatus -Controller $this -DesiredStatus ([string]$DesiredStatus) -Timeout $Timeout
    }
    Add-Member -InputObject $controller -MemberType ScriptMethod -Name Refresh -Value {
        $service = Find-SimService -State (Read-SimState -Path (Get-SimStatePath)) -Name $this.Name
        if ($null -ne $service) { $this.Status = [string]$service.status }
    }
    Set-SimDefaultDisplay -Object $controller -Property @('Status', 'Name', 'DisplayName')
    return $controller
}

function Wait-SimServiceStatus {
    # ServiceController.WaitForStatus: polls the state file until the service
    # has the status, or throws the TimeoutException the real one throws.
    param($Controller, [string]$DesiredStatus, $Timeout)
    $context = Enter-SimCommand -Command 'WaitForStatus' -Parameters ([ordered]@{ Name = $Controller.Name; Status = $DesiredStatus; Timeout = $Timeout })
    $deadline = $null
    if ($null -ne $Timeout) { $deadline = (Get-SimNow).Add([timespan]$Timeout) }
    $state = $context.State
    while ($true) {
        $service = Find-SimService -State $state -Name $Controller.Name
        if ($null -ne $service -and $service.status -eq $DesiredStatus) {
            $Controller.Status = [string]$service.status
            return
        }
        if ($null -ne $deadline -and (Get-SimNow) -ge $deadline) { break }
        Start-Sleep -Milliseconds 200
        $state = Read-SimState -Path $context.Path
    }
    $message = 'Time out has expired and the operation has not been completed.'
    # The real exception type where it can be made (Windows); off Windows its constructor refuses to run.
    $exception = $null
    try { $exception = New-Object -TypeName System.ServiceProcess.TimeoutException -ArgumentList @($message) } catch { $exception = $null }
    if ($null -eq $exception) { $exception = New-Object -TypeName System.TimeoutException -ArgumentList @($message) }
    throw $exception
}

function ConvertTo-SimWebBinding {
    # A Get-WebBinding object with the AddSslCertificate/RemoveSslCertificate methods.
    param($Site, $Binding)
    $object = [pscustomobject][ordered]@{
        PSTypeName           = 'Microsoft.IIs.PowerShell.Framework.ConfigurationElement#site#bindings#binding'
        protocol             = [string]$Binding.protocol
        bindingInformation   = [string]$Binding.bindingInformation
        sslFlags             = [int](Get-SimValue $Binding 'sslFlags' 0)
        isDsMapperEnabled    = $false
        certificateHash      = [string]$Binding.certificateHash
        certificateStoreName = [string]$Binding.certificateStoreName
        ItemXPath            = Get-SimSiteXPath -Site $Site
    }
    Add-Member -InputObject $object -MemberType ScriptMethod -Name AddSslCertificate -Value {
        param([string]$Thumbprint, [string]$StoreName)
        Invoke-SimSslCertificate -Binding $this -Thumbprint $Thumbprint -StoreName $StoreName
    }
    Add-Member -InputObject $object -MemberType ScriptMethod -Name RemoveSslCertificate -Value {
        Invoke-SimSslCertificate -Binding $this -Remove
    }
    Set-SimDefaultDisplay -Object $object -Property @('protocol', 'bindingInformation', 'sslFlags')
    return $object
}

function Invoke-SimSslCertificate {
    # The binding methods. They run as .NET-style methods, so failures are
    # exceptions (PowerShell reports them as 'Exception calling "AddSslCertificate"...').
    param($Binding, [string]$Thumbprint, [string]$StoreName, [switch]$Remove)
    $command = 'AddSslCertificate'
    $parameters = [ordered]@{ ItemXPath = $Binding.ItemXPath; BindingInformation = $Binding.bindingInformation; Thumbprint = $Thumbprint; StoreName = $StoreName }
    if ($Remove) {
        $command = 'RemoveSslCertificate'
        $parameters = [ordered]@{ ItemXPath = $Binding.ItemXPath; BindingInformation = $Binding.bindingInformation }
    }
    $context = Enter-SimCommand -Command $command -Parameters $parameters
    $state = $context.State
    $site = @($state.iis.sites | Where-Object { (Get-SimSiteXPath -Site $_) -eq $Binding.ItemXPath })
    if ($site.Count -eq 0) { throw ('The site of this binding no longer exists: ' + $Binding.ItemXPath) }
    $stored = @($site[0].bindings | Where-Object { $_.protocol -eq $Binding.protocol -and $_.bindingInformation -eq $Binding.bindingInformation })
    if ($stored.Count -eq 0) { throw ('The binding ' + $Binding.bindingInformation + ' no longer exists.') }
    if ($Remove) {
        $stored[0].certificateHash = ''
        $stored[0].certificateStoreName = ''
    } else {
        $thumbprint = ConvertTo-SimThumbprint -Thumbprint $Thumbprint
        $record = Find-SimCertificate -State $state -Thumbprint $thumbprint
        if ($null -eq $record -or $StoreName -ne 'My' -or -not $record.hasPrivateKey) {
            throw ('A specified logon session does not exist. It may already have been terminated. (Exception from HRESULT: 0x80070520) [simulator: no certificate ' + $thumbprint + ' with a private key in the ' + $StoreName + ' store]')
        }
        if ((Test-SimStrict -State $state -Name 'addSslCertificate') -and [string]$stored[0].certificateHash) {
            throw ('Cannot create a file when that file already exists. (Exception from HRESULT: 0x800700B7) [simulator: ' + $Binding.bindingInformation + ' already has certificate ' + $stored[0].certificateHash + '; call RemoveSslCertificate() first]')
        }
        $stored[0].certificateHash = $thumbprint
        $stored[0].certificateStoreName = 'My'
    }
    Exit-SimCommand -Context $context
    $Binding.certificateHash = [string]$stored[0].certificateHash
    $Binding.certificateStoreName = [string]$stored[0].certificateStoreName
}

function Get-SimProtocolSettings {
    param($State, [string]$Key)
    $protocol = $State.$Key
    $name = 'POP3'
    $ports = @('995:SSL', '110:TLS')
    if ($Key -eq 'imap') { $name = 'IMAP4'; $ports = @('993:SSL', '143:TLS') }
    $settings = [pscustomobject][ordered]@{
        Name                       = '1'
        Server                     = [string]$State.server.name
        ProtocolName               = $name
        X509CertificateName        = [string]$protocol.x509CertificateName
        LoginType                  = 'SecureLogin'
        InternalConnectionSettings = [string[]]@($ports | ForEach-Object { $State.server.fqdn + ':' + $_ })
        ExternalConnectionSettings = [string[]]@()
    }
    Set-SimDefaultDisplay -Object $settings -Property @('Name', 'ProtocolName', 'X509CertificateName')
    return $settings
}

function Set-SimProtocolCertificateName {
    # Set-PopSettings/Set-ImapSettings: the name is configured now, effective
    # after both of the protocol's services restart (Update-SimProtocolCertificate).
    param($State, [string]$Key, [string]$Name)
    $protocol = $State.$Key
    Set-SimValue $protocol 'x509CertificateName' $Name
    if ($Name -eq [string]$protocol.activeCertificateName) {
        Set-SimValue $protocol 'pendingRestart' @()
    } else {
        Set-SimValue $protocol 'pendingRestart' @($protocol.services)
    }
}

#endregion

#region Exchange cmdlets

function Get-ExchangeCertificate {
    [CmdletBinding()]
    param(
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = $true)][Alias('Identity')][string]$Thumbprint,
        [string]$Server,
        [string[]]$DomainName
    )
    process {
        try {
            $sim = Enter-SimCommand -Cmdlet $PSCmdlet
            $state = $sim.State
            Assert-SimServer -State $state -Server $Server
            $records = @($state.certificates)
            if ($Thumbprint) { $records = @(Get-SimCertificate -State $state -Thumbprint ($Thumbprint.Split('\')[-1])) }
            if ($DomainName) {
                $records = @($records | Where-Object {
                        $domains = @($_.certificateDomains)
                        @($DomainName | Where-Object { $wanted = $_; @($domains | Where-Object { $wanted -like $_ -or $_ -eq $wanted }).Count -gt 0 }).Count -gt 0
                    })
            }
            Exit-SimCommand -Context $sim -NoSave
            foreach ($record in $records) { ConvertTo-SimExchangeCertificate -State $state -Record $record }
        } catch {
            Write-SimError -Cmdlet $PSCmdlet -ErrorRecord $_
        }
    }
}

function Import-ExchangeCertificate {
    # No -FileName: removed by the 2022 H1 CUs (P1). No -Services: import, then enable.
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true)][byte[]]$FileData,
        [System.Security.SecureString]$Password,
        [bool]$PrivateKeyExportable = $false,
        [string]$FriendlyName,
        [string]$Server
    )
    try {
        $sim = Enter-SimCommand -Cmdlet $PSCmdlet
        $state = $sim.State
        Assert-SimServer -State $state -Server $Server
        if ($FriendlyName -and $FriendlyName.Length -ge 64) {
            throw (New-SimError -Message 'The FriendlyName must be less than 64 characters long.' -ErrorId 'FriendlyNameTooLong' -Category InvalidArgument -Target $FriendlyName)
        }
        $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]::Exportable
        try {
            if ($null -ne $Password) {
                $x509 = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($FileData, $Password, $flags)
            } else {
                $x509 = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($FileData, [string]'', $flags)
            }
        } catch {
            $inner = $_.Exception
            while ($null -ne $inner.InnerException) { $inner = $inner.InnerException }
            $message = 'Cannot import certificate. The password is incorrect, or the data is not a valid PFX (PKCS #12) file: ' + $inner.Message
            throw (New-SimError -Message $message -ErrorId 'CannotImportCertificate' -Category InvalidData -Exception (New-Object -TypeName System.Security.Cryptography.CryptographicException -ArgumentList @($message)))
        }
        try {
            $thumbprint = $x509.Thumbprint.ToUpperInvariant()
            if ($null -ne (Find-SimCertificate -State $state -Thumbprint $thumbprint)) {
                throw (New-SimError -Message ('Cannot import certificate. A certificate with the thumbprint ' + $thumbprint + ' already exists.') -ErrorId 'CertificateAlreadyExists' -Category ResourceExists -Target $thumbprint)
            }
            if (-not (Test-SimShouldProcess -Cmdlet $PSCmdlet -Target $thumbprint -Action 'Import certificate')) {
                Exit-SimCommand -Context $sim -NoSave
                return
            }
            $record = ConvertTo-SimCertificateRecord -Certificate $x509 -FriendlyName ([string]$FriendlyName) -PrivateKeyExportable $PrivateKeyExportable
        } finally {
            $x509.Reset()
        }
        $state.certificates = @(@($state.certificates) + $record)
        Exit-SimCommand -Context $sim
        ConvertTo-SimExchangeCertificate -State $state -Record $record
    } catch {
        Write-SimError -Cmdlet $PSCmdlet -ErrorRecord $_
    }
}

function Enable-ExchangeCertificate {
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true, Position = 0)][Alias('Identity')][string]$Thumbprint,
        [Parameter(Mandatory = $true)][string[]]$Services,
        [switch]$Force,
        [switch]$DoNotRequireSsl,
        [switch]$NetworkServiceAllowed,
        [string]$Server
    )
    try {
        $sim = Enter-SimCommand -Cmdlet $PSCmdlet
        $state = $sim.State
        Assert-SimServer -State $state -Server $Server
        $requested = Resolve-SimServiceList -Services $Services
        $record = Get-SimCertificate -State $state -Thumbprint $Thumbprint
        if (-not (Test-SimShouldProcess -Cmdlet $PSCmdlet -Target $record.thumbprint -Action ('Enable certificate for ' + ($requested -join ', ')))) {
            Exit-SimCommand -Context $sim -NoSave
            return
        }
        Enable-SimCertificateService -Context $sim -Record $record -Services $requested -Force ([bool]$Force) -DoNotRequireSsl ([bool]$DoNotRequireSsl)
        Exit-SimCommand -Context $sim
    } catch {
        Write-SimError -Cmdlet $PSCmdlet -ErrorRecord $_
    }
}

function Export-ExchangeCertificate {
    # No -FileName (P1): the caller writes .FileData itself.
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true, Position = 0)][Alias('Identity')][string]$Thumbprint,
        [switch]$BinaryEncoded,
        [System.Security.SecureString]$Password,
        [string]$Server
    )
    try {
        $sim = Enter-SimCommand -Cmdlet $PSCmdlet
        $state = $sim.State
        Assert-SimServer -State $state -Server $Server
        $record = Get-SimCertificate -State $state -Thumbprint $Thumbprint
        if ($null -ne $Password -and $record.hasPrivateKey -and -not $record.privateKeyExportable) {
            throw (New-SimError -Message ('The private key couldn''t be exported as PKCS-12. It either couldn''t be accessed or isn''t exportable. (certificate ' + $record.thumbprint + ' was imported or created with PrivateKeyExportable $false)') -ErrorId 'PrivateKeyNotExportable' -Target $record.thumbprint)
        }
        if (-not (Test-SimShouldProcess -Cmdlet $PSCmdlet -Target $record.thumbprint -Action 'Export certificate')) {
            Exit-SimCommand -Context $sim -NoSave
            return
        }
        $x509 = Read-SimX509 -Record $record
        try {
            if ($null -ne $Password) {
                $bytes = $x509.Export([System.Security.Cryptography.X509Certificates.X509ContentType]::Pkcs12, $Password)
            } else {
                # Without a password only the certificate itself leaves the server.
                $bytes = $x509.Export([System.Security.Cryptography.X509Certificates.X509ContentType]::Cert)
            }
        } finally {
            $x509.Reset()
        }
        Exit-SimCommand -Context $sim -NoSave
        if ($BinaryEncoded) {
            [pscustomobject]@{ FileData = [byte[]]$bytes }
        } else {
            [pscustomobject]@{ FileData = [Convert]::ToBase64String($bytes) }
        }
    } catch {
        Write-SimError -Cmdlet $PSCmdlet -ErrorRecord $_
    }
}

function Remove-ExchangeCertificate {
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    param(
        [Parameter(Mandatory = $true, Position = 0)][Alias('Identity')][string]$Thumbprint,
        [string]$Server
    )
    try {
        $sim = Enter-SimCommand -Cmdlet $PSCmdlet
        $state = $sim.State
        Assert-SimServer -State $state -Server $Server
        $record = Get-SimCertificate -State $state -Thumbprint $Thumbprint
        $thumbprint = $record.thumbprint
        if ((ConvertTo-SimThumbprint -Thumbprint ([string]$state.transport.internalTransportCertificateThumbprint)) -eq $thumbprint) {
            throw (New-SimError -Message 'The internal transport certificate cannot be removed because that would cause the Microsoft Exchange Transport service to stop. To replace the internal transport certificate, create a new certificate. The new certificate will automatically become the internal transport certificate. You can then remove the existing certificate.' -ErrorId 'CannotRemoveInternalTransportCertificate' -Target $thumbprint)
        }
        $auth = $state.authConfig
        if ((ConvertTo-SimThumbprint -Thumbprint ([string]$auth.currentCertificateThumbprint)) -eq $thumbprint -or (ConvertTo-SimThumbprint -Thumbprint ([string](Get-SimValue $auth 'nextCertificateThumbprint' ''))) -eq $thumbprint) {
            throw (New-SimError -Message ('The certificate with thumbprint ' + $thumbprint + ' is the current or next Auth certificate (Get-AuthConfig). Removing it breaks OAuth, OWA/ECP and Exchange PowerShell; change the Auth configuration first.') -ErrorId 'CannotRemoveAuthCertificate' -Target $thumbprint)
        }
        $bindings = @(Get-SimIisBinding -State $state -Thumbprint $thumbprint)
        if ($bindings.Count -gt 0) {
            throw (New-SimError -Message ('The certificate with thumbprint ' + $thumbprint + ' is bound in IIS (' + ($bindings -join '; ') + ') and cannot be removed; bind another certificate first.') -ErrorId 'CannotRemoveBoundCertificate' -Target $thumbprint)
        }
        if (-not (Test-SimShouldProcess -Cmdlet $PSCmdlet -Target $thumbprint -Action 'Remove certificate')) {
            Exit-SimCommand -Context $sim -NoSave
            return
        }
        $state.certificates = @($state.certificates | Where-Object { $_.thumbprint -ne $thumbprint })
        Exit-SimCommand -Context $sim
    } catch {
        Write-SimError -Cmdlet $PSCmdlet -ErrorRecord $_
    }
}

function New-ExchangeCertificate {
    # Self-signed only (no -GenerateRequest). Real defaults: subject CN=<server>,
    # services IMAP, POP, SMTP, key not exportable.
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [string]$SubjectName,
        [string[]]$DomainName,
        [string]$FriendlyName = 'Microsoft Exchange',
        [bool]$PrivateKeyExportable = $false,
        [int]$KeySize = 2048,
        [string[]]$Services = @('IMAP', 'POP', 'SMTP'),
        [switch]$Force,
        [string]$Server
    )
    try {
        $sim = Enter-SimCommand -Cmdlet $PSCmdlet
        $state = $sim.State
        Assert-SimServer -State $state -Server $Server
        $requested = Resolve-SimServiceList -Services $Services
        if (-not $SubjectName) { $SubjectName = 'CN=' + $state.server.name }
        if (-not $DomainName) { $DomainName = @([string]$state.server.name, [string]$state.server.fqdn) }
        if (-not (Test-SimShouldProcess -Cmdlet $PSCmdlet -Target $SubjectName -Action 'Create a self-signed certificate')) {
            Exit-SimCommand -Context $sim -NoSave
            return
        }
        $now = Get-SimNow
        $x509 = New-SimX509Certificate -Subject $SubjectName -DnsName $DomainName -NotBefore $now.AddMinutes(-5) -NotAfter $now.AddYears(5) -KeySize $KeySize
        $record = ConvertTo-SimCertificateRecord -Certificate $x509 -FriendlyName $FriendlyName -PrivateKeyExportable $PrivateKeyExportable -RootCAType 'Registry'
        $state.certificates = @(@($state.certificates) + $record)
        Enable-SimCertificateService -Context $sim -Record $record -Services $requested -Force ([bool]$Force) -DoNotRequireSsl $false
        Exit-SimCommand -Context $sim
        ConvertTo-SimExchangeCertificate -State $state -Record $record
    } catch {
        Write-SimError -Cmdlet $PSCmdlet -ErrorRecord $_
    }
}

function Invoke-SimGetProtocolSettings {
    # The body of Get-PopSettings and Get-ImapSettings.
    param([System.Management.Automation.PSCmdlet]$Cmdlet, [string]$Server, [string]$Key)
    try {
        $sim = Enter-SimCommand -Cmdlet $Cmdlet
        Assert-SimServer -State $sim.State -Server $Server
        Exit-SimCommand -Context $sim -NoSave
        Get-SimProtocolSettings -State $sim.State -Key $Key
    } catch {
        Write-SimError -Cmdlet $Cmdlet -ErrorRecord $_
    }
}

function Invoke-SimSetProtocolSettings {
    # The body of Set-PopSettings and Set-ImapSettings; $Label is how Exchange names the protocol (POP3, IMAP4).
    param([System.Management.Automation.PSCmdlet]$Cmdlet, [string]$Server, [string]$Key, [string]$Label, [hashtable]$Bound, [string]$X509CertificateName)
    try {
        $sim = Enter-SimCommand -Cmdlet $Cmdlet
        Assert-SimServer -State $sim.State -Server $Server
        if ($Bound.ContainsKey('X509CertificateName') -and (Test-SimShouldProcess -Cmdlet $Cmdlet -Target ($Label + ' settings') -Action ('Set X509CertificateName to ' + $X509CertificateName))) {
            Set-SimProtocolCertificateName -State $sim.State -Key $Key -Name $X509CertificateName
            Write-Warning ('Changes to ' + $Label + ' settings will only take effect after all Microsoft Exchange ' + $Label + ' services are restarted on server ' + $sim.State.server.name + '.') -WarningAction $Cmdlet.SessionState.PSVariable.GetValue('WarningPreference')
        }
        Exit-SimCommand -Context $sim
    } catch {
        Write-SimError -Cmdlet $Cmdlet -ErrorRecord $_
    }
}

function Get-PopSettings {
    [CmdletBinding()]
    param([string]$Server)
    Invoke-SimGetProtocolSettings -Cmdlet $PSCmdlet -Server $Server -Key 'pop'
}

function Set-PopSettings {
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([string]$Server, [string]$X509CertificateName)
    Invoke-SimSetProtocolSettings -Cmdlet $PSCmdlet -Server $Server -Key 'pop' -Label 'POP3' -Bound $PSBoundParameters -X509CertificateName $X509CertificateName
}

function Get-ImapSettings {
    [CmdletBinding()]
    param([string]$Server)
    Invoke-SimGetProtocolSettings -Cmdlet $PSCmdlet -Server $Server -Key 'imap'
}

function Set-ImapSettings {
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([string]$Server, [string]$X509CertificateName)
    Invoke-SimSetProtocolSettings -Cmdlet $PSCmdlet -Server $Server -Key 'imap' -Label 'IMAP4' -Bound $PSBoundParameters -X509CertificateName $X509CertificateName
}

function Test-ServiceHealth {
    # Per role: are its required services (those that start automatically) running?
    [CmdletBinding()]
    param([Parameter(Position = 0)][Alias('Identity')][string]$Server)
    try {
        $sim = Enter-SimCommand -Cmdlet $PSCmdlet
        $state = $sim.State
        Assert-SimServer -State $state -Server $Server
        Exit-SimCommand -Context $sim -NoSave
        foreach ($role in @($state.roles)) {
            $running = New-Object -TypeName System.Collections.Generic.List[string]
            $notRunning = New-Object -TypeName System.Collections.Generic.List[string]
            foreach ($name in @($role.requiredServices)) {
                $service = Find-SimService -State $state -Name $name
                if ($null -ne $service -and $service.startType -ne 'Automatic') { continue }
                if ($null -ne $service -and $service.status -eq 'Running') { $running.Add($name) } else { $notRunning.Add($name) }
            }
            [pscustomobject][ordered]@{
                PSTypeName              = 'Deserialized.Microsoft.Exchange.Monitoring.ServerHealthInfo'
                Role                    = [string]$role.role
                RequiredServicesRunning = ($notRunning.Count -eq 0)
                ServicesRunning         = $running.ToArray()
                ServicesNotRunning      = $notRunning.ToArray()
            }
        }
    } catch {
        Write-SimError -Cmdlet $PSCmdlet -ErrorRecord $_
    }
}

function Get-ExchangeServer {
    [CmdletBinding()]
    param([Parameter(Position = 0)][string]$Identity, [switch]$Status)
    try {
        $sim = Enter-SimCommand -Cmdlet $PSCmdlet
        $state = $sim.State
        Assert-SimServer -State $state -Server $Identity
        Exit-SimCommand -Context $sim -NoSave
        $server = $state.server
        $object = [pscustomobject][ordered]@{
            PSTypeName           = 'Deserialized.Microsoft.Exchange.Data.Directory.Management.ExchangeServer'
            Name                 = [string]$server.name
            Identity             = [string]$server.name
            Fqdn                 = [string]$server.fqdn
            Domain               = [string]$server.domain
            Site                 = [string]$server.site
            ServerRole           = [string]$server.serverRole
            Edition              = [string]$server.edition
            AdminDisplayVersion  = [string]$server.adminDisplayVersion
            IsMailboxServer      = $true
            IsClientAccessServer = $true
            IsHubTransportServer = $true
            IsEdgeServer         = $false
        }
        Set-SimDefaultDisplay -Object $object -Property @('Name', 'Site', 'ServerRole', 'Edition', 'AdminDisplayVersion')
        $object
    } catch {
        Write-SimError -Cmdlet $PSCmdlet -ErrorRecord $_
    }
}

function Get-TransportService {
    [CmdletBinding()]
    param([Parameter(Position = 0)][string]$Identity)
    try {
        $sim = Enter-SimCommand -Cmdlet $PSCmdlet
        $state = $sim.State
        Assert-SimServer -State $state -Server $Identity
        Exit-SimCommand -Context $sim -NoSave
        [pscustomobject][ordered]@{
            PSTypeName                             = 'Deserialized.Microsoft.Exchange.Data.Directory.SystemConfiguration.TransportServer'
            Name                                   = [string]$state.server.name
            Identity                               = [string]$state.server.name
            InternalTransportCertificateThumbprint = [string]$state.transport.internalTransportCertificateThumbprint
        }
    } catch {
        Write-SimError -Cmdlet $PSCmdlet -ErrorRecord $_
    }
}

function Set-TransportService {
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true, Position = 0)][string]$Identity,
        [string]$InternalTransportCertificateThumbprint
    )
    try {
        $sim = Enter-SimCommand -Cmdlet $PSCmdlet
        $state = $sim.State
        Assert-SimServer -State $state -Server $Identity
        if ($PSBoundParameters.ContainsKey('InternalTransportCertificateThumbprint')) {
            if (Test-SimStrict -State $state -Name 'setTransportService') {
                # What real Exchange says: the cmdlet has no such parameter.
                $message = 'A parameter cannot be found that matches parameter name ''InternalTransportCertificateThumbprint''.'
                $exception = New-Object -TypeName System.Management.Automation.ParameterBindingException -ArgumentList @($message)
                throw (New-SimError -Terminating -Message $message -ErrorId 'NamedParameterNotFound,Set-TransportService' -Category InvalidArgument -Exception $exception)
            }
            $record = Get-SimCertificate -State $state -Thumbprint $InternalTransportCertificateThumbprint
            if (Test-SimShouldProcess -Cmdlet $PSCmdlet -Target $Identity -Action ('Set InternalTransportCertificateThumbprint to ' + $record.thumbprint)) {
                Set-SimValue $state.transport 'internalTransportCertificateThumbprint' $record.thumbprint
            }
        }
        Exit-SimCommand -Context $sim
    } catch {
        Write-SimError -Cmdlet $PSCmdlet -ErrorRecord $_
    }
}

function Get-AuthConfig {
    [CmdletBinding()]
    param()
    try {
        $sim = Enter-SimCommand -Cmdlet $PSCmdlet
        $auth = $sim.State.authConfig
        Exit-SimCommand -Context $sim -NoSave
        [pscustomobject][ordered]@{
            PSTypeName                    = 'Deserialized.Microsoft.Exchange.Data.Directory.SystemConfiguration.AuthConfig'
            Identity                      = 'Auth Configuration'
            CurrentCertificateThumbprint  = [string]$auth.currentCertificateThumbprint
            PreviousCertificateThumbprint = [string](Get-SimValue $auth 'previousCertificateThumbprint' '')
            NextCertificateThumbprint     = [string](Get-SimValue $auth 'nextCertificateThumbprint' '')
            ServiceName                   = '00000002-0000-0ff1-ce00-000000000000'
            Realm                         = ''
        }
    } catch {
        Write-SimError -Cmdlet $PSCmdlet -ErrorRecord $_
    }
}

#endregion

#region Host: services, IIS

# Module functions win over cmdlets and executables of the same name, so these
# shadow the real Get-Service, iisreset, Get-WebBinding ... wherever the module is imported.

function Get-Service {
    [CmdletBinding()]
    param([Parameter(Position = 0, ValueFromPipelineByPropertyName = $true)][Alias('ServiceName')][string[]]$Name = @('*'))
    process {
        $missing = @()
        try {
            $sim = Enter-SimCommand -Cmdlet $PSCmdlet
            $services = Resolve-SimService -State $sim.State -Name $Name -Missing ([ref]$missing)
            Exit-SimCommand -Context $sim -NoSave
            foreach ($service in $services) { ConvertTo-SimServiceController -Service $service }
        } catch {
            Write-SimError -Cmdlet $PSCmdlet -ErrorRecord $_
        }
        # Outside the try: under -ErrorAction Stop these must not be caught and reported twice.
        foreach ($name in @($missing)) {
            if ($name -notmatch '[*?\[]') { Write-SimError -Cmdlet $PSCmdlet -ErrorRecord (New-SimServiceNotFoundError -Name $name) }
        }
    }
}

function Invoke-SimServiceCommand {
    # Start-/Stop-/Restart-Service: change every named service, save, then
    # report failures as the non-terminating errors the real cmdlets write.
    param([System.Management.Automation.PSCmdlet]$Cmdlet, [string[]]$Name, [string]$Verb, [bool]$PassThru)
    $failures = New-Object -TypeName System.Collections.Generic.List[object]
    try {
        $sim = Enter-SimCommand -Cmdlet $Cmdlet
        $state = $sim.State
        $missing = @()
        $services = Resolve-SimService -State $state -Name $Name -Missing ([ref]$missing)
        foreach ($name in @($missing)) { $failures.Add((New-SimServiceNotFoundError -Name $name)) }
        $done = New-Object -TypeName System.Collections.Generic.List[object]
        foreach ($service in $services) {
            $label = Get-SimServiceLabel -Service $service
            if (-not (Test-SimShouldProcess -Cmdlet $Cmdlet -Target $label -Action ($Verb + '-Service'))) { continue }
            if ($Verb -ne 'Start') {
                if (-not (Stop-SimService -State $state -Service $service)) {
                    $failures.Add((New-SimError -Message ('Service ''' + $label + ''' cannot be stopped due to the following error: Cannot stop ' + $service.name + ' service on computer ''.''.') -ErrorId ('CouldNotStopService,Microsoft.PowerShell.Commands.' + $Verb + 'ServiceCommand') -Category CloseError -Target $service.name))
                    continue
                }
            }
            if ($Verb -ne 'Stop') {
                if (-not (Start-SimService -State $state -Service $service)) {
                    $failures.Add((New-SimError -Message ('Service ''' + $label + ''' cannot be started due to the following error: Cannot start service ' + $service.name + ' on computer ''.''.') -ErrorId ('CouldNotStartService,Microsoft.PowerShell.Commands.' + $Verb + 'ServiceCommand') -Category OpenError -Target $service.name))
                    continue
                }
            }
            $done.Add($service)
        }
        Exit-SimCommand -Context $sim
        if ($PassThru) { foreach ($service in $done) { ConvertTo-SimServiceController -Service $service } }
    } catch {
        Write-SimError -Cmdlet $Cmdlet -ErrorRecord $_
    }
    # Outside the try: under -ErrorAction Stop the first one ends the command, as with the real cmdlets.
    foreach ($failure in $failures) { Write-SimError -Cmdlet $Cmdlet -ErrorRecord $failure }
}

function Start-Service {
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([Parameter(Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)][Alias('ServiceName')][string[]]$Name, [switch]$PassThru)
    process { Invoke-SimServiceCommand -Cmdlet $PSCmdlet -Name $Name -Verb 'Start' -PassThru ([bool]$PassThru) }
}

function Stop-Service {
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([Parameter(Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)][Alias('ServiceName')][string[]]$Name, [switch]$Force, [switch]$PassThru)
    process { Invoke-SimServiceCommand -Cmdlet $PSCmdlet -Name $Name -Verb 'Stop' -PassThru ([bool]$PassThru) }
}

function Restart-Service {
    # Like the real one, a stopped service is simply started.
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([Parameter(Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)][Alias('ServiceName')][string[]]$Name, [switch]$Force, [switch]$PassThru)
    process { Invoke-SimServiceCommand -Cmdlet $PSCmdlet -Name $Name -Verb 'Restart' -PassThru ([bool]$PassThru) }
}

function iisreset {
    # Stands in for iisreset.exe: prints its lines, sets $LASTEXITCODE, never
    # writes PowerShell errors for IIS failures (a native tool only has exit codes).
    [CmdletBinding()]
    param([Parameter(ValueFromRemainingArguments = $true)][string[]]$Arguments = @())
    try {
        $sim = Enter-SimCommand -Cmdlet $PSCmdlet
        $state = $sim.State
        $switches = @($Arguments | ForEach-Object { ([string]$_).ToLowerInvariant() })
        $lines = New-Object -TypeName System.Collections.Generic.List[string]
        $exitCode = 0
        $iis = @($script:IisServices | ForEach-Object { Find-SimService -State $state -Name $_ } | Where-Object { $null -ne $_ })
        $fault = $sim.Fault
        if ($null -ne $fault -and [string](Get-SimValue $fault 'action' '') -eq 'exit') {
            $exitCode = [int](Get-SimValue $fault 'code' 1)
            $lines.Add('Attempting stop...')
            $message = [string](Get-SimValue $fault 'message' 'Restart attempt failed.')
            foreach ($line in ($message -split "`r?`n")) { $lines.Add($line) }
            $sim.Fault = $null
        } elseif ($switches -contains '/status') {
            foreach ($service in $iis) { $lines.Add('Status for ' + $service.displayName + ' ( ' + $service.name + ' ) : ' + $service.status) }
        } else {
            $stop = ($switches -notcontains '/start')
            $start = ($switches -notcontains '/stop')
            if ($stop) {
                $lines.Add('Attempting stop...')
                foreach ($service in $iis) { $null = Stop-SimService -State $state -Service $service }
                $lines.Add('Internet services successfully stopped')
            }
            if ($start) {
                $lines.Add('Attempting start...')
                $failed = @($iis | Where-Object { -not (Start-SimService -State $state -Service $_) })
                if ($failed.Count -gt 0) {
                    $exitCode = 1
                    $lines.Add('Restart attempt failed.')
                    $lines.Add('The IIS Admin Service or the World Wide Web Publishing Service, or a service dependent on them failed to start.  The service, or dependent services, may had an error during its startup or may be disabled.')
                } elseif ($stop) {
                    $lines.Add('Internet services successfully restarted')
                } else {
                    $lines.Add('Internet services successfully started')
                }
            }
            if ($stop -and $start -and $exitCode -eq 0) {
                Set-SimValue $state.iis 'resets' ([int](Get-SimValue $state.iis 'resets' 0) + 1)
                Set-SimValue $state.iis 'lastResetAt' (Format-SimDate -Value (Get-SimNow))
            }
        }
        Exit-SimCommand -Context $sim
        $global:LASTEXITCODE = $exitCode
        $lines.ToArray()
    } catch {
        Write-SimError -Cmdlet $PSCmdlet -ErrorRecord $_
    }
}

function Get-WebBinding {
    [CmdletBinding()]
    param(
        [Parameter(Position = 0)][string]$Name,
        [string]$Protocol,
        [int]$Port = 0,
        [string]$IPAddress,
        [string]$HostHeader
    )
    try {
        $sim = Enter-SimCommand -Cmdlet $PSCmdlet
        Exit-SimCommand -Context $sim -NoSave
        foreach ($site in @($sim.State.iis.sites)) {
            if ($Name -and $site.name -notlike $Name) { continue }
            foreach ($binding in @($site.bindings)) {
                $parts = ([string]$binding.bindingInformation).Split(':')
                if ($Protocol -and $binding.protocol -ne $Protocol) { continue }
                if ($Port -and $parts.Count -ge 2 -and $parts[1] -ne [string]$Port) { continue }
                if ($IPAddress -and $parts[0] -ne $IPAddress) { continue }
                if ($PSBoundParameters.ContainsKey('HostHeader') -and $parts.Count -ge 3 -and $parts[2] -ne $HostHeader) { continue }
                ConvertTo-SimWebBinding -Site $site -Binding $binding
            }
        }
    } catch {
        Write-SimError -Cmdlet $PSCmdlet -ErrorRecord $_
    }
}

function New-WebBinding {
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true, Position = 0)][string]$Name,
        [string]$Protocol = 'http',
        [int]$Port = 80,
        [string]$IPAddress = '*',
        [string]$HostHeader = '',
        [int]$SslFlags = 0
    )
    try {
        $sim = Enter-SimCommand -Cmdlet $PSCmdlet
        $site = Get-SimSite -State $sim.State -Name $Name
        $information = $IPAddress + ':' + $Port + ':' + $HostHeader
        if (@($site.bindings | Where-Object { $_.protocol -eq $Protocol -and $_.bindingInformation -eq $information }).Count -gt 0) {
            throw (New-SimError -Message ('Cannot add duplicate collection entry of type ''binding'' with combined key attributes ''protocol, bindingInformation'' respectively set to ''' + $Protocol + ', ' + $information + '''') -ErrorId 'DuplicateBinding' -Category ResourceExists -Target $information)
        }
        $binding = [pscustomobject][ordered]@{ protocol = $Protocol; bindingInformation = $information; sslFlags = $SslFlags; certificateHash = ''; certificateStoreName = '' }
        $site.bindings = @(@($site.bindings) + $binding)
        Exit-SimCommand -Context $sim
    } catch {
        Write-SimError -Cmdlet $PSCmdlet -ErrorRecord $_
    }
}

#endregion

#region Simulator commands

function New-ExchCertSimulatorState {
    <#
    .SYNOPSIS
    Writes a simulator state that looks like the seed's Exchange 2019 Mailbox server.
    .DESCRIPTION
    Three real certificates: the public one for -Fqdn (issued by a generated CA
    with a public CA's name, expiring in -ExpiresInDays days, IIS/SMTP/POP/IMAP,
    exportable), the Exchange self-signed one (CN=<Server>, internal transport
    certificate, bound to Exchange Back End *:444 and Default Web Site
    127.0.0.1:443, not exportable as on a default install) and the OAuth one
    (Auth config current). All services running.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true, Position = 0)][string]$Path,
        [string]$Server = 'EXCH01',
        [string]$Fqdn = 'mail.contoso.com',
        [string]$Domain,
        [int]$ExpiresInDays = 20,
        [switch]$Force
    )
    $ErrorActionPreference = 'Stop'
    $target = Resolve-SimPath -Path $Path
    if ([System.IO.File]::Exists($target) -and -not $Force) { throw ('ExchCertSimulator: ' + $target + ' exists; use -Force to overwrite it') }
    if (-not $Domain) { $Domain = $Fqdn.Substring($Fqdn.IndexOf('.') + 1) }
    $serverFqdn = $Server + '.' + $Domain
    $now = Get-SimNow

    $publicUntil = $now.AddDays($ExpiresInDays)
    $public = New-SimX509Certificate -Subject ('CN=' + $Fqdn) -DnsName @($Fqdn, ('autodiscover.' + $Domain)) -NotBefore $publicUntil.AddDays(-365) -NotAfter $publicUntil -Issuer 'CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1, O=DigiCert Inc, C=US'
    $selfSigned = New-SimX509Certificate -Subject ('CN=' + $Server) -DnsName @($Server, $serverFqdn) -NotBefore $now.AddYears(-2) -NotAfter $now.AddYears(3)
    $auth = New-SimX509Certificate -Subject 'CN=Microsoft Exchange Server Auth Certificate' -NotBefore $now.AddYears(-1) -NotAfter $now.AddYears(4)

    $publicRecord = ConvertTo-SimCertificateRecord -Certificate $public -FriendlyName ($Fqdn + ' (DigiCert)') -PrivateKeyExportable $true -Services @('SMTP', 'POP', 'IMAP')
    $selfSignedRecord = ConvertTo-SimCertificateRecord -Certificate $selfSigned -FriendlyName 'Microsoft Exchange' -PrivateKeyExportable $false -Services @('SMTP')
    $authRecord = ConvertTo-SimCertificateRecord -Certificate $auth -FriendlyName 'Microsoft Exchange Server Auth Certificate' -PrivateKeyExportable $true -Services @('SMTP')

    $serviceTable = @(
        @('MSExchangeADTopology', 'Microsoft Exchange Active Directory Topology'),
        @('MSExchangeDelivery', 'Microsoft Exchange Mailbox Transport Delivery'),
        @('MSExchangeEdgeSync', 'Microsoft Exchange EdgeSync'),
        @('MSExchangeFrontEndTransport', 'Microsoft Exchange Frontend Transport'),
        @('MSExchangeHM', 'Microsoft Exchange Health Manager'),
        @('MSExchangeImap4', 'Microsoft Exchange IMAP4'),
        @('MSExchangeIMAP4BE', 'Microsoft Exchange IMAP4 Backend'),
        @('MSExchangeIS', 'Microsoft Exchange Information Store'),
        @('MSExchangeMailboxAssistants', 'Microsoft Exchange Mailbox Assistants'),
        @('MSExchangeMailboxReplication', 'Microsoft Exchange Mailbox Replication'),
        @('MSExchangePop3', 'Microsoft Exchange POP3'),
        @('MSExchangePOP3BE', 'Microsoft Exchange POP3 Backend'),
        @('MSExchangeRepl', 'Microsoft Exchange Replication'),
        @('MSExchangeRPC', 'Microsoft Exchange RPC Client Access'),
        @('MSExchangeServiceHost', 'Microsoft Exchange Service Host'),
        @('MSExchangeSubmission', 'Microsoft Exchange Mailbox Transport Submission'),
        @('MSExchangeThrottling', 'Microsoft Exchange Throttling'),
        @('MSExchangeTransport', 'Microsoft Exchange Transport'),
        @('MSExchangeTransportLogSearch', 'Microsoft Exchange Transport Log Search'),
        @('IISADMIN', 'IIS Admin Service'),
        @('WAS', 'Windows Process Activation Service'),
        @('W3SVC', 'World Wide Web Publishing Service'),
        @('WinRM', 'Windows Remote Management (WS-Management)')
    )
    $services = @(foreach ($row in $serviceTable) { [pscustomobject][ordered]@{ name = $row[0]; displayName = $row[1]; status = 'Running'; startType = 'Automatic' } })

    # Required services per role, as the seed's Test-ServiceHealth prints them
    # (Exchange 2019 has no Unified Messaging role, so that one is left out).
    $roles = @(
        [pscustomobject][ordered]@{ role = 'Mailbox Server Role'; requiredServices = @('IISAdmin', 'MSExchangeADTopology', 'MSExchangeDelivery', 'MSExchangeIS', 'MSExchangeMailboxAssistants', 'MSExchangeRepl', 'MSExchangeRPC', 'MSExchangeServiceHost', 'MSExchangeSubmission', 'MSExchangeThrottling', 'MSExchangeTransportLogSearch', 'W3Svc', 'WinRM') },
        [pscustomobject][ordered]@{ role = 'Client Access Server Role'; requiredServices = @('IISAdmin', 'MSExchangeADTopology', 'MSExchangeIMAP4', 'MSExchangeMailboxReplication', 'MSExchangeRPC', 'MSExchangeServiceHost', 'W3Svc', 'WinRM') },
        [pscustomobject][ordered]@{ role = 'Hub Transport Server Role'; requiredServices = @('IISAdmin', 'MSExchangeADTopology', 'MSExchangeEdgeSync', 'MSExchangeServiceHost', 'MSExchangeTransport', 'MSExchangeTransportLogSearch', 'W3Svc', 'WinRM') }
    )

    $binding = {
        param($Protocol, $Information, $Thumbprint)
        $store = ''
        if ($Thumbprint) { $store = 'My' }
        [pscustomobject][ordered]@{ protocol = $Protocol; bindingInformation = $Information; sslFlags = 0; certificateHash = $Thumbprint; certificateStoreName = $store }
    }
    $state = [pscustomobject][ordered]@{
        version      = $script:StateVersion
        createdAt    = Format-SimDate -Value $now
        server       = [pscustomobject][ordered]@{
            name                = $Server
            fqdn                = $serverFqdn
            domain              = $Domain
            site                = $Domain + '/Configuration/Sites/Default-First-Site-Name'
            edition             = 'Standard'
            adminDisplayVersion = 'Version 15.2 (Build 1748.10)'
            serverRole          = $script:ServerRoleText
        }
        certificates = @($publicRecord, $selfSignedRecord, $authRecord)
        transport    = [pscustomobject][ordered]@{ internalTransportCertificateThumbprint = $selfSignedRecord.thumbprint }
        authConfig   = [pscustomobject][ordered]@{ currentCertificateThumbprint = $authRecord.thumbprint; nextCertificateThumbprint = ''; previousCertificateThumbprint = '' }
        iis          = [pscustomobject][ordered]@{
            sites                          = @(
                [pscustomobject][ordered]@{
                    name       = $script:DefaultSiteName
                    id         = 1
                    requireSsl = $true
                    bindings   = @(
                        (& $binding 'http' '*:80:' ''),
                        (& $binding 'https' '*:443:' $publicRecord.thumbprint),
                        (& $binding 'https' '127.0.0.1:443:' $selfSignedRecord.thumbprint)
                    )
                },
                [pscustomobject][ordered]@{
                    name       = 'Exchange Back End'
                    id         = 2
                    requireSsl = $true
                    bindings   = @(
                        (& $binding 'http' '*:81:' ''),
                        (& $binding 'https' '*:444:' $selfSignedRecord.thumbprint)
                    )
                }
            )
            resets                         = 0
            lastResetAt                    = ''
        }
        pop          = [pscustomobject][ordered]@{ x509CertificateName = $Fqdn; activeCertificateName = $Fqdn; services = @('MSExchangePop3', 'MSExchangePOP3BE'); pendingRestart = @() }
        imap         = [pscustomobject][ordered]@{ x509CertificateName = $Fqdn; activeCertificateName = $Fqdn; services = @('MSExchangeImap4', 'MSExchangeIMAP4BE'); pendingRestart = @() }
        services     = $services
        roles        = $roles
        strict       = [pscustomobject][ordered]@{ setTransportService = $true; addSslCertificate = $true }
        faults       = @()
        calls        = @()
    }
    $directory = [System.IO.Path]::GetDirectoryName($target)
    if ($directory -and -not [System.IO.Directory]::Exists($directory)) { $null = [System.IO.Directory]::CreateDirectory($directory) }
    Save-SimState -State $state -Path $target
    foreach ($certificate in @($public, $selfSigned, $auth)) { $certificate.Reset() }
    [pscustomobject][ordered]@{
        Path                  = $target
        Server                = $Server
        PublicThumbprint      = $publicRecord.thumbprint
        SelfSignedThumbprint  = $selfSignedRecord.thumbprint
        AuthThumbprint        = $authRecord.thumbprint
    }
}

function New-ExchCertSimulatorPfx {
    <#
    .SYNOPSIS
    Writes a real PFX file (the "renewed certificate") for rehearsals and tests.
    .DESCRIPTION
    The certificate is issued by a generated CA named -Issuer. -Wildcard makes the
    subject CN=*.<first DnsName> and adds that name to the DNS names. -IncludeChain
    puts the CA certificate into the file as well, as PFX files from a CA often do.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true, Position = 0)][string]$Path,
        [Parameter(Mandatory = $true)][System.Security.SecureString]$Password,
        [Parameter(Mandatory = $true)][string[]]$DnsName,
        [switch]$Wildcard,
        [int]$ValidDays = 90,
        [string]$Issuer = 'CN=R11, O=Let''s Encrypt, C=US',
        [string]$Subject,
        [int]$KeySize = 2048,
        [switch]$IncludeChain
    )
    $ErrorActionPreference = 'Stop'
    $names = @($DnsName)
    if ($Wildcard -and $names[0] -notlike '`*.*') { $names = @('*.' + $names[0]) + $names }
    if (-not $Subject) { $Subject = 'CN=' + $names[0] }
    $now = Get-SimNow
    $notAfter = $now.AddDays($ValidDays)
    $notBefore = $now.AddHours(-1)
    if ($ValidDays -le 0) { $notBefore = $notAfter.AddDays(-90) }
    $certificate = New-SimX509Certificate -Subject $Subject -DnsName $names -NotBefore $notBefore -NotAfter $notAfter -KeySize $KeySize -Issuer $Issuer
    try {
        if ($IncludeChain) {
            $collection = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2Collection
            $null = $collection.Add($certificate)
            $ca = Get-SimIssuer -Name $Issuer
            $null = $collection.Add((New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2 -ArgumentList @(, $ca.RawData)))
            $bytes = $collection.Export([System.Security.Cryptography.X509Certificates.X509ContentType]::Pkcs12, (ConvertTo-SimPlainText -SecureString $Password))
        } else {
            $bytes = $certificate.Export([System.Security.Cryptography.X509Certificates.X509ContentType]::Pkcs12, $Password)
        }
        $target = Resolve-SimPath -Path $Path
        [System.IO.File]::WriteAllBytes($target, $bytes)
        [pscustomobject][ordered]@{
            Path       = $target
            Thumbprint = $certificate.Thumbprint.ToUpperInvariant()
            Subject    = $certificate.Subject
            Issuer     = $certificate.Issuer
            DnsNames   = [string[]]$names
            NotBefore  = $certificate.NotBefore
            NotAfter   = $certificate.NotAfter
        }
    } finally {
        $certificate.Reset()
    }
}

function Get-ExchCertSimulatorState {
    <#
    .SYNOPSIS
    Reads a simulator state file (default: $env:EXCH_CERT_SIMULATOR_STATE) without logging a call.
    #>
    [CmdletBinding()]
    param([string]$Path)
    $ErrorActionPreference = 'Stop'
    if ($Path) { $Path = Resolve-SimPath -Path $Path } else { $Path = Get-SimStatePath }
    Read-SimState -Path $Path
}

function Add-ExchCertSimulatorFault {
    <#
    .SYNOPSIS
    Adds a fault to the state file (default: $env:EXCH_CERT_SIMULATOR_STATE).
    .EXAMPLE
    Add-ExchCertSimulatorFault -Command Enable-ExchangeCertificate -Action throw -Message 'Active Directory is unreachable' -Times 1
    .EXAMPLE
    Add-ExchCertSimulatorFault -Service MSExchangeTransport -Action wont-start
    #>
    [CmdletBinding(DefaultParameterSetName = 'Command')]
    param(
        [Parameter(Mandatory = $true, ParameterSetName = 'Command')][string]$Command,
        [Parameter(Mandatory = $true, ParameterSetName = 'Service')][string]$Service,
        [Parameter(Mandatory = $true)][ValidateSet('throw', 'hang', 'exit', 'wont-start', 'wont-stop')][string]$Action,
        [string]$Message,
        [int]$Times = 0,
        [double]$Seconds = 0,
        [int]$Code = 1,
        [switch]$After,
        [string]$Path
    )
    $ErrorActionPreference = 'Stop'
    if ($Path) { $Path = Resolve-SimPath -Path $Path } else { $Path = Get-SimStatePath }
    $state = Read-SimState -Path $Path
    $fault = [ordered]@{}
    if ($PSCmdlet.ParameterSetName -eq 'Command') { $fault.command = $Command } else { $fault.service = $Service }
    $fault.action = $Action
    if ($Message) { $fault.message = $Message }
    if ($Times -gt 0) { $fault.times = $Times }
    if ($Action -eq 'hang') { $fault.seconds = $(if ($Seconds -gt 0) { $Seconds } else { 3600 }) }
    if ($Action -eq 'exit') { $fault.code = $Code }
    if ($After) { $fault.after = $true }
    Set-SimValue $state 'faults' @(@(Get-SimValue $state 'faults' @()) + [pscustomobject]$fault)
    Save-SimState -State $state -Path $Path
}

#endregion

Export-ModuleMember -Function @(
    # Exchange
    'Get-ExchangeCertificate', 'Import-ExchangeCertificate', 'Enable-ExchangeCertificate', 'Export-ExchangeCertificate',
    'Remove-ExchangeCertificate', 'New-ExchangeCertificate',
    'Get-PopSettings', 'Set-PopSettings', 'Get-ImapSettings', 'Set-ImapSettings',
    'Test-ServiceHealth', 'Get-ExchangeServer', 'Get-TransportService', 'Set-TransportService', 'Get-AuthConfig',
    # Host
    'Get-Service', 'Start-Service', 'Stop-Service', 'Restart-Service', 'iisreset', 'Get-WebBinding', 'New-WebBinding',
    # Simulator
    'New-ExchCertSimulatorState', 'New-ExchCertSimulatorPfx', 'Get-ExchCertSimulatorState', 'Add-ExchCertSimulatorFault'
)
