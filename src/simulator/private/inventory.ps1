# ExchCertSimulator: what a new simulated organisation is made of (used by
# New-ExchCertSimulatorState): Mailbox and Edge servers with their services,
# roles, sites, connectors and queues, and the layouts real servers have.

$script:Layouts = [ordered]@{
    'seed'                      = 'POP3 and IMAP4 services Automatic and Running (a fresh install has them Manual and Stopped)'
    'loopback-public'           = 'the old public certificate also on Default Web Site 127.0.0.1:443, as in the seed''s raw notes'
    'sni'                       = 'the old public certificate also on an SNI binding *:443:<fqdn> (sslFlags 1)'
    'public-internal-transport' = 'the old public certificate is the internal transport certificate'
    'non-exportable'            = 'the old public certificate''s key is not exportable (Import-ExchangeCertificate''s default)'
    'require-ssl-off'           = 'Default Web Site has Require SSL off (an HTTP-to-HTTPS redirect set-up)'
    'hybrid-connectors'         = 'a send connector and a receive connector whose TlsCertificateName names the old public certificate'
    'smtp-namespace'            = 'the receive connectors on 25 and 587 have the namespace as their FQDN, so SMTP offers the public certificate'
}

# Name, display name, start type of a Mailbox server's services (Exchange 2019).
$script:MailboxServiceTable = @(
    @('MSExchangeADTopology', 'Microsoft Exchange Active Directory Topology', 'Automatic'),
    @('MSExchangeDelivery', 'Microsoft Exchange Mailbox Transport Delivery', 'Automatic'),
    @('MSExchangeEdgeSync', 'Microsoft Exchange EdgeSync', 'Automatic'),
    @('MSExchangeFrontEndTransport', 'Microsoft Exchange Frontend Transport', 'Automatic'),
    @('MSExchangeHM', 'Microsoft Exchange Health Manager', 'Automatic'),
    @('MSExchangeImap4', 'Microsoft Exchange IMAP4', 'Manual'),
    @('MSExchangeIMAP4BE', 'Microsoft Exchange IMAP4 Backend', 'Manual'),
    @('MSExchangeIS', 'Microsoft Exchange Information Store', 'Automatic'),
    @('MSExchangeMailboxAssistants', 'Microsoft Exchange Mailbox Assistants', 'Automatic'),
    @('MSExchangeMailboxReplication', 'Microsoft Exchange Mailbox Replication', 'Automatic'),
    @('MSExchangePop3', 'Microsoft Exchange POP3', 'Manual'),
    @('MSExchangePOP3BE', 'Microsoft Exchange POP3 Backend', 'Manual'),
    @('MSExchangeRepl', 'Microsoft Exchange Replication', 'Automatic'),
    @('MSExchangeRPC', 'Microsoft Exchange RPC Client Access', 'Automatic'),
    @('MSExchangeServiceHost', 'Microsoft Exchange Service Host', 'Automatic'),
    @('MSExchangeSubmission', 'Microsoft Exchange Mailbox Transport Submission', 'Automatic'),
    @('MSExchangeThrottling', 'Microsoft Exchange Throttling', 'Automatic'),
    @('MSExchangeTransport', 'Microsoft Exchange Transport', 'Automatic'),
    @('MSExchangeTransportLogSearch', 'Microsoft Exchange Transport Log Search', 'Automatic'),
    @('IISADMIN', 'IIS Admin Service', 'Automatic'),
    @('WAS', 'Windows Process Activation Service', 'Automatic'),
    @('W3SVC', 'World Wide Web Publishing Service', 'Automatic'),
    @('WinRM', 'Windows Remote Management (WS-Management)', 'Automatic')
)

# An Edge Transport server's services (the ADAM instance is ADAM_MSExchange).
$script:EdgeServiceTable = @(
    @('ADAM_MSExchange', 'Microsoft Exchange ADAM', 'Automatic'),
    @('MSExchangeAntispamUpdate', 'Microsoft Exchange Anti-spam Update', 'Automatic'),
    @('MSExchangeDiagnostics', 'Microsoft Exchange Diagnostics', 'Automatic'),
    @('MSExchangeEdgeCredential', 'Microsoft Exchange Credential Service', 'Automatic'),
    @('MSExchangeHM', 'Microsoft Exchange Health Manager', 'Automatic'),
    @('MSExchangeServiceHost', 'Microsoft Exchange Service Host', 'Automatic'),
    @('MSExchangeTransport', 'Microsoft Exchange Transport', 'Automatic'),
    @('MSExchangeTransportLogSearch', 'Microsoft Exchange Transport Log Search', 'Automatic'),
    @('WinRM', 'Windows Remote Management (WS-Management)', 'Automatic')
)

$script:PopImapServices = @('MSExchangePop3', 'MSExchangePOP3BE', 'MSExchangeImap4', 'MSExchangeIMAP4BE')

function Resolve-SimLayouts {
    # -Layout 'a,b' or @('a','b'); unknown names are refused with the list.
    param([string[]]$Layout)
    $names = @(@($Layout) | ForEach-Object { ([string]$_) -split ',' } | ForEach-Object { $_.Trim().ToLowerInvariant() } | Where-Object { $_ })
    foreach ($name in $names) {
        if (-not $script:Layouts.Contains($name)) { throw ('ExchCertSimulator: unknown layout ''' + $name + '''. Layouts: ' + (@($script:Layouts.Keys) -join ', ') + '.') }
    }
    return @($names | Select-Object -Unique)
}

function New-SimServices {
    param([object[]]$Table, [string[]]$Layouts)
    foreach ($row in $Table) {
        $startType = $row[2]
        $status = 'Running'
        if ($startType -eq 'Manual') { $status = 'Stopped' }
        if ($Layouts -contains 'seed' -and $script:PopImapServices -contains $row[0]) { $startType = 'Automatic'; $status = 'Running' }
        [pscustomobject][ordered]@{ name = $row[0]; displayName = $row[1]; status = $status; startType = $startType }
    }
}

function New-SimMailboxRoles {
    # Required services per role, as the seed's Test-ServiceHealth prints them
    # (Exchange 2019 has no Unified Messaging role, so that one is left out).
    return @(
        [pscustomobject][ordered]@{ role = 'Mailbox Server Role'; requiredServices = @('IISAdmin', 'MSExchangeADTopology', 'MSExchangeDelivery', 'MSExchangeIS', 'MSExchangeMailboxAssistants', 'MSExchangeRepl', 'MSExchangeRPC', 'MSExchangeServiceHost', 'MSExchangeSubmission', 'MSExchangeThrottling', 'MSExchangeTransportLogSearch', 'W3Svc', 'WinRM') },
        [pscustomobject][ordered]@{ role = 'Client Access Server Role'; requiredServices = @('IISAdmin', 'MSExchangeADTopology', 'MSExchangeIMAP4', 'MSExchangeMailboxReplication', 'MSExchangeRPC', 'MSExchangeServiceHost', 'W3Svc', 'WinRM') },
        [pscustomobject][ordered]@{ role = 'Hub Transport Server Role'; requiredServices = @('IISAdmin', 'MSExchangeADTopology', 'MSExchangeEdgeSync', 'MSExchangeServiceHost', 'MSExchangeTransport', 'MSExchangeTransportLogSearch', 'W3Svc', 'WinRM') }
    )
}

function New-SimReceiveConnector {
    # Without -Fqdn the connector has none, and announces (and picks its certificate by) the server's FQDN.
    param([string]$Name, [string[]]$Bindings, [string]$Role, [string]$TlsCertificateName = '', [string]$Fqdn = '')
    $connector = [pscustomobject][ordered]@{ name = $Name; bindings = $Bindings; transportRole = $Role; tlsCertificateName = $TlsCertificateName; requireTLS = $false; enabled = $true; comment = '' }
    if ($Fqdn) { Set-SimValue $connector 'fqdn' $Fqdn }
    return $connector
}

function New-SimQueue {
    param([string]$Server, [string]$Id, [string]$DeliveryType, [string]$Status, [int]$Count, [string]$NextHop)
    return [pscustomobject][ordered]@{ identity = ($Server + '\' + $Id); deliveryType = $DeliveryType; status = $Status; messageCount = $Count; nextHopDomain = $NextHop; drainStep = 0 }
}

function New-SimServerRecord {
    # What every server has; the caller adds certificates, IIS and the rest.
    param([string]$Name, [string]$Domain, [string]$Site, [string]$Role, [string]$Version)
    return [pscustomobject][ordered]@{
        name                = $Name
        fqdn                = $Name + '.' + $Domain
        domain              = $Domain
        site                = $Site
        serverRole          = $Role
        edition             = 'Standard'
        adminDisplayVersion = $Version
    }
}

function New-SimMailboxServer {
    # A Mailbox server behind the namespace: the public certificate on
    # Default Web Site 443, its own self-signed certificate on 127.0.0.1:443
    # and Exchange Back End 444 (the internal transport certificate), POP/IMAP
    # named for the namespace, as the layouts say.
    param([string]$Name, [string]$Domain, [string]$Site, [string]$Version, [string]$Fqdn, $Public, $SelfSigned, $Auth, [string[]]$Layouts, [string[]]$Peers)
    $server = New-SimServerRecord -Name $Name -Domain $Domain -Site $Site -Role 'Mailbox' -Version $Version
    $publicHere = Copy-SimCertificateRecord -Record $Public -Services @('SMTP', 'POP', 'IMAP') -PrivateKeyExportable ($Layouts -notcontains 'non-exportable')
    Set-SimValue $server 'certificates' @($publicHere, $SelfSigned, (Copy-SimCertificateRecord -Record $Auth -Services @('SMTP') -PrivateKeyExportable $true))
    $internal = $SelfSigned.thumbprint
    if ($Layouts -contains 'public-internal-transport') { $internal = $Public.thumbprint }
    Set-SimValue $server 'transport' ([pscustomobject][ordered]@{ internalTransportCertificateThumbprint = $internal; redirectTarget = '' })
    $loopback = $SelfSigned.thumbprint
    if ($Layouts -contains 'loopback-public') { $loopback = $Public.thumbprint }
    $front = @((New-SimBinding -Protocol 'http' -BindingInformation '*:80:'), (New-SimBinding -Protocol 'https' -BindingInformation '*:443:' -Thumbprint $Public.thumbprint), (New-SimBinding -Protocol 'https' -BindingInformation '127.0.0.1:443:' -Thumbprint $loopback))
    if ($Layouts -contains 'sni') { $front += New-SimBinding -Protocol 'https' -BindingInformation ('*:443:' + $Fqdn) -Thumbprint $Public.thumbprint -SslFlags 1 }
    $back = @((New-SimBinding -Protocol 'http' -BindingInformation '*:81:'), (New-SimBinding -Protocol 'https' -BindingInformation '*:444:' -Thumbprint $SelfSigned.thumbprint))
    Set-SimValue $server 'iis' ([pscustomobject][ordered]@{
            sites                  = @(
                [pscustomobject][ordered]@{ name = $script:DefaultSiteName; id = 1; requireSsl = ($Layouts -notcontains 'require-ssl-off'); bindings = $front },
                [pscustomobject][ordered]@{ name = 'Exchange Back End'; id = 2; requireSsl = $true; bindings = $back }
            )
            resets                 = 0
            lastResetAt            = ''
            lastResetEndedSessions = @()
        })
    foreach ($key in @('pop', 'imap')) {
        $services = @('MSExchangePop3', 'MSExchangePOP3BE')
        if ($key -eq 'imap') { $services = @('MSExchangeImap4', 'MSExchangeIMAP4BE') }
        Set-SimValue $server $key ([pscustomobject][ordered]@{ x509CertificateName = $Fqdn; activeCertificateName = $Fqdn; activeCertificateThumbprint = $Public.thumbprint; services = $services; pendingRestart = @(); lastProblem = '' })
    }
    Set-SimValue $server 'services' @(New-SimServices -Table $script:MailboxServiceTable -Layouts $Layouts)
    Set-SimValue $server 'roles' (New-SimMailboxRoles)
    $frontendTls = ''
    if ($Layouts -contains 'hybrid-connectors') { $frontendTls = Get-SimTlsCertificateName -Record $Public }
    $clientFqdn = ''
    if ($Layouts -contains 'smtp-namespace') { $clientFqdn = $Fqdn }
    Set-SimValue $server 'receiveConnectors' @(
        (New-SimReceiveConnector -Name ('Default ' + $Name) -Bindings @('0.0.0.0:2525', '[::]:2525') -Role 'HubTransport'),
        (New-SimReceiveConnector -Name ('Client Proxy ' + $Name) -Bindings @('0.0.0.0:465', '[::]:465') -Role 'HubTransport'),
        (New-SimReceiveConnector -Name ('Default Frontend ' + $Name) -Bindings @('0.0.0.0:25', '[::]:25') -Role 'FrontendTransport' -TlsCertificateName $frontendTls -Fqdn $clientFqdn),
        (New-SimReceiveConnector -Name ('Outbound Proxy Frontend ' + $Name) -Bindings @('0.0.0.0:717', '[::]:717') -Role 'FrontendTransport'),
        (New-SimReceiveConnector -Name ('Client Frontend ' + $Name) -Bindings @('0.0.0.0:587', '[::]:587') -Role 'FrontendTransport' -Fqdn $clientFqdn)
    )
    # The transport services run: each connector serves what they picked when they started.
    Update-SimSmtpCertificate -Server $server -All
    $queues = @(
        (New-SimQueue -Server $Name -Id 'Submission' -DeliveryType 'Undefined' -Status 'Ready' -Count 0 -NextHop 'Submission'),
        (New-SimQueue -Server $Name -Id '1' -DeliveryType 'MapiDelivery' -Status 'Active' -Count 8 -NextHop 'mailbox database 01'),
        (New-SimQueue -Server $Name -Id '2' -DeliveryType 'DnsConnectorDelivery' -Status 'Active' -Count 4 -NextHop 'fabrikam.com')
    )
    if (@($Peers).Count -gt 0) { $queues += New-SimQueue -Server $Name -Id 'Shadow\3' -DeliveryType 'ShadowRedundancy' -Status 'Ready' -Count 6 -NextHop ($Peers[0] + '.' + $Domain) }
    $queues += New-SimQueue -Server $Name -Id 'Poison' -DeliveryType 'Undefined' -Status 'Ready' -Count 0 -NextHop 'Poison Message'
    Set-SimValue $server 'queues' $queues
    Set-SimValue $server 'componentStates' @()
    Set-SimValue $server 'sessions' @()
    return $server
}

function New-SimEdgeServer {
    # An Edge Transport server in the perimeter: no IIS, no POP/IMAP; the
    # public certificate is its default SMTP certificate, and it is subscribed.
    param([string]$Name, [string]$Domain, [string]$Site, [string]$Version, $Public, $SelfSigned, [string]$Now)
    $server = New-SimServerRecord -Name $Name -Domain $Domain -Site $Site -Role 'Edge' -Version $Version
    Set-SimValue $server 'certificates' @((Copy-SimCertificateRecord -Record $Public -Services @('SMTP') -PrivateKeyExportable $true), $SelfSigned)
    Set-SimValue $server 'transport' ([pscustomobject][ordered]@{ internalTransportCertificateThumbprint = $Public.thumbprint; redirectTarget = '' })
    Set-SimValue $server 'iis' $null
    Set-SimValue $server 'pop' $null
    Set-SimValue $server 'imap' $null
    Set-SimValue $server 'services' @(New-SimServices -Table $script:EdgeServiceTable -Layouts @())
    Set-SimValue $server 'roles' @([pscustomobject][ordered]@{ role = 'Edge Transport Server Role'; requiredServices = @('ADAM_MSExchange', 'MSExchangeEdgeCredential', 'MSExchangeServiceHost', 'MSExchangeTransport', 'MSExchangeTransportLogSearch') })
    Set-SimValue $server 'receiveConnectors' @(New-SimReceiveConnector -Name ('Default internal receive connector ' + $Name) -Bindings @('0.0.0.0:25', '[::]:25') -Role 'HubTransport')
    Update-SimSmtpCertificate -Server $server -All
    Set-SimValue $server 'queues' @(
        (New-SimQueue -Server $Name -Id 'Submission' -DeliveryType 'Undefined' -Status 'Ready' -Count 0 -NextHop 'Submission'),
        (New-SimQueue -Server $Name -Id '1' -DeliveryType 'DnsConnectorDelivery' -Status 'Active' -Count 2 -NextHop 'fabrikam.com'),
        (New-SimQueue -Server $Name -Id 'Poison' -DeliveryType 'Undefined' -Status 'Ready' -Count 0 -NextHop 'Poison Message')
    )
    Set-SimValue $server 'componentStates' @()
    Set-SimValue $server 'sessions' @()
    Set-SimValue $server 'edge' ([pscustomobject][ordered]@{ adamSslPort = 50636; bootstrap = $null; subscription = ([pscustomobject][ordered]@{ site = $Site; createdAt = $Now; certificateThumbprint = $Public.thumbprint }) })
    return $server
}

function New-SimSendConnector {
    param([string]$Name, [string[]]$AddressSpaces, [string[]]$Sources, [string[]]$SmartHosts = @(), [string]$TlsCertificateName = '', [bool]$RequireTls = $false, [string]$Fqdn = '')
    return [pscustomobject][ordered]@{ name = $Name; addressSpaces = $AddressSpaces; sourceTransportServers = $Sources; smartHosts = $SmartHosts; dnsRoutingEnabled = (@($SmartHosts).Count -eq 0); fqdn = $Fqdn; tlsCertificateName = $TlsCertificateName; requireTLS = $RequireTls; enabled = $true; comment = ''; edgeSync = '' }
}
