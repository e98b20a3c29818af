# ExchCertSimulator: the simulator's own commands: New-ExchCertSimulatorState
# (one organisation in one state file), New-ExchCertSimulatorPfx,
# Get-ExchCertSimulatorState, Add-ExchCertSimulatorFault and
# Register-ExchCertSimulatorSession.

$script:ExchangeVersion = 'Version 15.2 (Build 1748.10)'

function New-ExchCertSimulatorState {
    <#
    .SYNOPSIS
    Writes a simulated Exchange organisation (state format version 2).
    .DESCRIPTION
    Mailbox servers -Servers (default EXCH01; -Server is the same parameter)
    behind the namespace -Fqdn, and Edge Transport servers -Edge, subscribed.
    Real certificates: the public one for -Fqdn (issued by a generated CA with
    a public CA's name, expiring in -ExpiresInDays days, the same thumbprint on
    every server; IIS/SMTP/POP/IMAP on Mailbox servers, SMTP and the default
    SMTP certificate on Edge servers), each server's Exchange self-signed one
    (CN=<server>; the internal transport certificate, on Exchange Back End
    *:444 and Default Web Site 127.0.0.1:443, not exportable), and the Auth
    certificate (Get-AuthConfig). -Layout adds what real servers have (see
    the module's header): seed, loopback-public, sni, public-internal-transport,
    non-exportable, require-ssl-off, hybrid-connectors.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true, Position = 0)][string]$Path,
        [Alias('Server')][string[]]$Servers = @('EXCH01'),
        [string[]]$Edge = @(),
        [string]$Fqdn = 'mail.contoso.com',
        [string]$Domain,
        [string[]]$Layout = @(),
        [int]$ExpiresInDays = 20,
        [switch]$Force
    )
    $ErrorActionPreference = 'Stop'
    $target = Resolve-SimPath -Path $Path
    if ([System.IO.File]::Exists($target) -and -not $Force) { throw ('ExchCertSimulator: ' + $target + ' exists; use -Force to overwrite it') }
    $layouts = @(Resolve-SimLayouts -Layout $Layout)
    $mailboxNames = @(@($Servers) | ForEach-Object { ([string]$_) -split ',' } | ForEach-Object { $_.Trim() } | Where-Object { $_ })
    $edgeNames = @(@($Edge) | ForEach-Object { ([string]$_) -split ',' } | ForEach-Object { $_.Trim() } | Where-Object { $_ })
    $allNames = @($mailboxNames + $edgeNames)
    if ($mailboxNames.Count -eq 0) { throw 'ExchCertSimulator: an organisation needs at least one Mailbox server (-Servers).' }
    foreach ($name in $allNames) {
        if ($name -notmatch '^[A-Za-z0-9][A-Za-z0-9-]{0,14}$') { throw ('ExchCertSimulator: ''' + $name + ''' is not a server (NetBIOS) name: letters, digits and hyphens, at most 15.') }
        if (@($allNames | Where-Object { Test-SimName $_ $name }).Count -gt 1) { throw ('ExchCertSimulator: the server name ''' + $name + ''' is given twice.') }
    }
    if (-not $Domain) { $Domain = $Fqdn.Substring($Fqdn.IndexOf('.') + 1) }
    $siteName = 'Default-First-Site-Name'
    $site = $Domain + '/Configuration/Sites/' + $siteName
    $now = Get-SimNow
    $nowText = Format-SimDate -Value $now

    $publicUntil = $now.AddDays($ExpiresInDays)
    $made = New-Object -TypeName System.Collections.Generic.List[object]
    $publicIssuer = 'CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1, O=DigiCert Inc, C=US'
    $x509 = New-SimX509Certificate -Subject ('CN=' + $Fqdn) -DnsName @($Fqdn, ('autodiscover.' + $Domain)) -NotBefore $publicUntil.AddDays(-365) -NotAfter $publicUntil -Issuer $publicIssuer
    $made.Add($x509)
    $public = ConvertTo-SimCertificateRecord -Certificate $x509 -FriendlyName ($Fqdn + ' (DigiCert)') -Chain @([Convert]::ToBase64String((Get-SimIssuer -Name $publicIssuer).RawData))
    $x509 = New-SimX509Certificate -Subject 'CN=Microsoft Exchange Server Auth Certificate' -NotBefore $now.AddYears(-1) -NotAfter $now.AddYears(4)
    $made.Add($x509)
    $auth = ConvertTo-SimCertificateRecord -Certificate $x509 -FriendlyName 'Microsoft Exchange Server Auth Certificate' -PrivateKeyExportable $true -Services @('SMTP')
    try {
        $selfSigned = [ordered]@{}
        foreach ($name in $allNames) {
            $x509 = New-SimX509Certificate -Subject ('CN=' + $name) -DnsName @($name, ($name + '.' + $Domain)) -NotBefore $now.AddYears(-2) -NotAfter $now.AddYears(3)
            $made.Add($x509)
            $selfSigned[$name] = ConvertTo-SimCertificateRecord -Certificate $x509 -FriendlyName 'Microsoft Exchange' -Services @('SMTP')
        }
    } finally {
        foreach ($certificate in $made) { $certificate.Reset() }
    }

    $serverRecords = New-Object -TypeName System.Collections.Generic.List[object]
    foreach ($name in $mailboxNames) {
        $peers = @($mailboxNames | Where-Object { $_ -ne $name })
        $serverRecords.Add((New-SimMailboxServer -Name $name -Domain $Domain -Site $site -Version $script:ExchangeVersion -Fqdn $Fqdn -Public $public -SelfSigned $selfSigned[$name] -Auth $auth -Layouts $layouts -Peers $peers))
    }
    $subscriptions = New-Object -TypeName System.Collections.Generic.List[object]
    $connectors = New-Object -TypeName System.Collections.Generic.List[object]
    foreach ($name in $edgeNames) {
        $edgeServer = New-SimEdgeServer -Name $name -Domain $Domain -Site $site -Version $script:ExchangeVersion -Public $public -SelfSigned $selfSigned[$name] -Now $nowText
        $serverRecords.Add($edgeServer)
        $subscriptions.Add([pscustomobject][ordered]@{ name = $name; fqdn = $edgeServer.fqdn; site = $site; domain = $Domain; certificateThumbprint = $public.thumbprint; createdAt = $nowText; lastSyncAt = $nowText })
        foreach ($connector in @(New-SimEdgeSyncConnectors -Edge $edgeServer -Site $siteName -Internet $true -Inbound $true)) { $connectors.Add($connector) }
    }
    if ($edgeNames.Count -eq 0) { $connectors.Add((New-SimSendConnector -Name 'Internet' -AddressSpaces @('SMTP:*;1') -Sources $mailboxNames)) }
    if ($layouts -contains 'hybrid-connectors') {
        $tenant = $Domain.Split('.')[0]
        $connectors.Add((New-SimSendConnector -Name ('Outbound to Office 365 - ' + [guid]::NewGuid().ToString()) -AddressSpaces @('smtp:' + $tenant + '.mail.onmicrosoft.com;1') -Sources $mailboxNames -SmartHosts @($tenant + '-' + ($Domain.Split('.') | Select-Object -Last 1) + '.mail.protection.outlook.com') -TlsCertificateName (Get-SimTlsCertificateName -Record $public) -RequireTls $true -Fqdn $Fqdn))
    }

    $state = [pscustomobject][ordered]@{
        version      = $script:StateVersion
        id           = [guid]::NewGuid().ToString()
        createdAt    = $nowText
        layouts      = $layouts
        organization = [pscustomobject][ordered]@{
            name               = (Get-Culture).TextInfo.ToTitleCase($Domain.Split('.')[0])
            domain             = $Domain
            site               = $siteName
            namespace          = $Fqdn
            acceptedDomains    = @($Domain)
            authConfig         = [pscustomobject][ordered]@{ currentCertificateThumbprint = $auth.thumbprint; nextCertificateThumbprint = ''; previousCertificateThumbprint = '' }
            sendConnectors     = $connectors.ToArray()
            edgeSubscriptions  = $subscriptions.ToArray()
        }
        servers      = $serverRecords.ToArray()
        faults       = @()
        calls        = @()
    }
    $directory = [System.IO.Path]::GetDirectoryName($target)
    if ($directory -and -not [System.IO.Directory]::Exists($directory)) { $null = [System.IO.Directory]::CreateDirectory($directory) }
    Save-SimState -State $state -Path $target
    $thumbprints = [ordered]@{}
    foreach ($name in $allNames) { $thumbprints[$name] = $selfSigned[$name].thumbprint }
    [pscustomobject][ordered]@{
        Path                  = $target
        Server                = $mailboxNames[0]
        Servers               = [string[]]$mailboxNames
        Edge                  = [string[]]$edgeNames
        Layouts               = [string[]]$layouts
        PublicThumbprint      = $public.thumbprint
        SelfSignedThumbprint  = $selfSigned[$mailboxNames[0]].thumbprint
        SelfSignedThumbprints = [pscustomobject]$thumbprints
        AuthThumbprint        = $auth.thumbprint
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

function Resolve-SimCommandPath {
    # -Path, else $env:EXCH_CERT_SIMULATOR_STATE.
    param([string]$Path)
    if ($Path) { return (Resolve-SimPath -Path $Path) }
    return (Get-SimStatePath)
}

function Get-ExchCertSimulatorState {
    <#
    .SYNOPSIS
    Reads a simulator state file (default: $env:EXCH_CERT_SIMULATOR_STATE) without logging a call.
    #>
    [CmdletBinding()]
    param([string]$Path)
    $ErrorActionPreference = 'Stop'
    Use-SimState -Path (Resolve-SimCommandPath -Path $Path) -ReadOnly -Body { param($state) $state }
}

function Add-ExchCertSimulatorFault {
    <#
    .SYNOPSIS
    Adds a fault to the state file (default: $env:EXCH_CERT_SIMULATOR_STATE).
    .EXAMPLE
    Add-ExchCertSimulatorFault -Command Enable-ExchangeCertificate -Action throw -Message 'Active Directory is unreachable' -Times 1
    .EXAMPLE
    Add-ExchCertSimulatorFault -Service MSExchangeTransport -Action wont-start -Server EXCH02
    .EXAMPLE
    Add-ExchCertSimulatorFault -Command Get-Queue -Action stuck -Server EXCH02
    #>
    [CmdletBinding(DefaultParameterSetName = 'Command')]
    param(
        [Parameter(Mandatory = $true, ParameterSetName = 'Command')][string]$Command,
        [Parameter(Mandatory = $true, ParameterSetName = 'Service')][string]$Service,
        [Parameter(Mandatory = $true)][ValidateSet('throw', 'hang', 'exit', 'stuck', 'wont-start', 'wont-stop')][string]$Action,
        [string]$Server,
        [string]$Message,
        [int]$Times = 0,
        [double]$Seconds = 0,
        [int]$Code = 1,
        [switch]$After,
        [switch]$NonTerminating,
        [string]$Path
    )
    $ErrorActionPreference = 'Stop'
    $fault = [ordered]@{}
    if ($PSCmdlet.ParameterSetName -eq 'Command') { $fault.command = $Command } else { $fault.service = $Service }
    $fault.action = $Action
    if ($Server) { $fault.server = $Server }
    if ($Message) { $fault.message = $Message }
    if ($Times -gt 0) { $fault.times = $Times }
    if ($Action -eq 'hang') { $fault.seconds = $(if ($Seconds -gt 0) { $Seconds } else { 3600 }) }
    if ($Action -eq 'exit') { $fault.code = $Code }
    if ($After) { $fault.after = $true }
    if ($NonTerminating) { $fault.terminating = $false }
    $null = Use-SimState -Path (Resolve-SimCommandPath -Path $Path) -Body {
        param($state)
        if ($Server -and $null -eq (Find-SimServer -State $state -Name $Server)) { throw ('ExchCertSimulator: no server ''' + $Server + ''' in this organisation.') }
        Set-SimValue $state 'faults' @(@(Get-SimValue $state 'faults' @()) + [pscustomobject]$fault)
    }
}

function Register-ExchCertSimulatorSession {
    <#
    .SYNOPSIS
    Registers this process as a remoting session to a simulated server.
    .DESCRIPTION
    Run on the server side of a PowerShell remoting session, after importing
    the module. -Kind exchange: the session stands for the server's Exchange
    PowerShell (/PowerShell, in IIS), so an iisreset on that server ends this
    process, and the client's PSSession breaks as a real one does. -Kind host:
    a WinRM session for host commands, which an iisreset leaves alone.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string]$Server,
        [Parameter(Mandatory = $true)][ValidateSet('exchange', 'host')][string]$Kind,
        [string]$Path
    )
    $ErrorActionPreference = 'Stop'
    $started = Format-SimDate -Value ([System.Diagnostics.Process]::GetCurrentProcess().StartTime)
    $statePath = Resolve-SimCommandPath -Path $Path
    $null = Use-SimState -Path $statePath -Body {
        param($state)
        $record = Find-SimServer -State $state -Name $Server
        if ($null -eq $record) { throw ('ExchCertSimulator: no server ''' + $Server + ''' in this organisation.') }
        Initialize-SimSessionBaseline -State $state -Path $statePath
        $live = @(@(Get-SimValue $record 'sessions' @()) | Where-Object { [int]$_.pid -ne $PID -and $null -ne (Get-SimSessionProcess -Session $_) })
        Set-SimValue $record 'sessions' @($live + [pscustomobject][ordered]@{ pid = $PID; kind = $Kind; startedAt = $started; registeredAt = (Format-SimDate -Value (Get-SimNow)) })
    }
}
