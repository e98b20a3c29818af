# ExchCertSimulator: the transport service (Get-/Set-TransportService, the
# internal transport certificate), the certificate each receive connector
# serves for STARTTLS, and the POP3/IMAP4 settings (Get-/Set-PopSettings,
# Get-/Set-ImapSettings), with the rule that decides which certificate POP and
# IMAP serve. The many Set-* parameters the
# simulator does not act on are accepted and ignored, as declared by
# Microsoft's reference.

#region Transport service

function ConvertTo-SimTransportService {
    param($Server)
    return (New-SimView -TypeName 'Microsoft.Exchange.Data.Directory.SystemConfiguration.TransportServer' -Display @('Name') -Property ([ordered]@{
                Name                                   = [string]$Server.name
                Identity                               = [string]$Server.name
                InternalTransportCertificateThumbprint = [string]$Server.transport.internalTransportCertificateThumbprint
            }))
}

function Get-TransportService {
    # -Identity is a TransportServerIdParameter: a server name; an FQDN is not found.
    [CmdletBinding(DefaultParameterSetName = 'Default', PositionalBinding = $false)]
    param(
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = $true)][string]$Identity,
        [object]$DomainController
    )
    process {
        Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimServer $Identity -SimNameOnly -SimBody {
            param($sim)
            if ($Identity) { return (ConvertTo-SimTransportService -Server $sim.Server) }
            foreach ($server in @(Get-SimVisibleServers -State $sim.State -HostServer $sim.Host)) {
                ConvertTo-SimTransportService -Server $server
            }
        }
    }
}

function Set-TransportService {
    # InternalTransportCertificateThumbprint is not a parameter (the property
    # is read-only): Enable-ExchangeCertificate -Services SMTP changes it.
    [CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Default', PositionalBinding = $false)]
    param(
        [Parameter(Mandatory = $true, Position = 0)][string]$Identity,
        [object]$ActiveUserStatisticsLogMaxAge, [object]$ActiveUserStatisticsLogMaxDirectorySize, [object]$ActiveUserStatisticsLogMaxFileSize,
        [object]$ActiveUserStatisticsLogPath, [object]$AgentLogMaxAge, [object]$AgentLogMaxDirectorySize, [object]$AgentLogMaxFileSize,
        [object]$AgentLogPath, [object]$ConnectivityLogMaxAge, [object]$ConnectivityLogMaxDirectorySize, [object]$ConnectivityLogMaxFileSize,
        [object]$ConnectivityLogPath, [object]$DelayNotificationTimeout, [object]$DnsLogMaxAge, [object]$DnsLogMaxDirectorySize,
        [object]$DnsLogMaxFileSize, [object]$DnsLogPath, [object]$DomainController, [object]$ExternalDNSAdapterGuid,
        [object]$ExternalDNSProtocolOption, [object]$ExternalIPAddress, [object]$InternalDNSAdapterGuid, [object]$InternalDNSProtocolOption,
        [object]$IntraOrgConnectorProtocolLoggingLevel, [object]$IrmLogMaxAge, [object]$IrmLogMaxDirectorySize, [object]$IrmLogMaxFileSize,
        [object]$IrmLogPath, [object]$MaxOutboundConnections, [object]$MaxPerDomainOutboundConnections, [object]$MessageExpirationTimeout,
        [object]$MessageRetryInterval, [object]$MessageTrackingLogMaxAge, [object]$MessageTrackingLogMaxDirectorySize,
        [object]$MessageTrackingLogMaxFileSize, [object]$MessageTrackingLogPath, [object]$OutboundConnectionFailureRetryInterval,
        [object]$PickupDirectoryMaxHeaderSize, [object]$PickupDirectoryPath, [object]$PipelineTracingPath, [object]$PipelineTracingSenderAddress,
        [object]$QueueLogMaxAge, [object]$QueueLogMaxDirectorySize, [object]$QueueLogMaxFileSize, [object]$QueueLogPath, [object]$QueueMaxIdleTime,
        [object]$ReceiveProtocolLogMaxAge, [object]$ReceiveProtocolLogMaxDirectorySize, [object]$ReceiveProtocolLogMaxFileSize,
        [object]$ReceiveProtocolLogPath, [object]$ReplayDirectoryPath, [object]$RequestBrokerLogMaxAge, [object]$RequestBrokerLogMaxDirectorySize,
        [object]$RequestBrokerLogMaxFileSize, [object]$RequestBrokerLogPath, [object]$ResourceLogMaxAge, [object]$ResourceLogMaxDirectorySize,
        [object]$ResourceLogMaxFileSize, [object]$ResourceLogPath, [object]$RoutingTableLogMaxAge, [object]$RoutingTableLogMaxDirectorySize,
        [object]$RoutingTableLogPath, [object]$SendProtocolLogMaxAge, [object]$SendProtocolLogMaxDirectorySize, [object]$SendProtocolLogMaxFileSize,
        [object]$SendProtocolLogPath, [object]$ServerStatisticsLogMaxAge, [object]$ServerStatisticsLogMaxDirectorySize,
        [object]$ServerStatisticsLogMaxFileSize, [object]$ServerStatisticsLogPath, [object]$TransientFailureRetryInterval,
        [object]$TransportHttpLogMaxAge, [object]$TransportHttpLogMaxDirectorySize, [object]$TransportHttpLogMaxFileSize,
        [object]$TransportHttpLogPath, [object]$TransportMaintenanceLogMaxAge, [object]$TransportMaintenanceLogMaxDirectorySize,
        [object]$TransportMaintenanceLogMaxFileSize, [object]$TransportMaintenanceLogPath, [object]$TransportSyncHubHealthLogFilePath,
        [object]$TransportSyncHubHealthLogMaxAge, [object]$TransportSyncHubHealthLogMaxDirectorySize, [object]$TransportSyncHubHealthLogMaxFileSize,
        [object]$TransportSyncLogFilePath, [object]$TransportSyncLogLoggingLevel, [object]$TransportSyncLogMaxAge,
        [object]$TransportSyncLogMaxDirectorySize, [object]$TransportSyncLogMaxFileSize, [object]$TransportSyncMaxDownloadSizePerConnection,
        [object]$TransportSyncMaxDownloadSizePerItem, [object]$TransportSyncRemoteConnectionTimeout, [object]$WlmLogMaxAge,
        [object]$WlmLogMaxDirectorySize, [object]$WlmLogMaxFileSize, [object]$WlmLogPath,
        [bool]$AgentLogEnabled, [bool]$AntispamAgentsEnabled, [bool]$ConnectivityLogEnabled, [bool]$ContentConversionTracingEnabled,
        [bool]$DnsLogEnabled, [bool]$ExternalDNSAdapterEnabled, [bool]$InternalDNSAdapterEnabled, [bool]$IrmLogEnabled,
        [bool]$MessageTrackingLogEnabled, [bool]$MessageTrackingLogSubjectLoggingEnabled, [bool]$PipelineTracingEnabled,
        [bool]$PoisonMessageDetectionEnabled, [bool]$RecipientValidationCacheEnabled, [bool]$RequestBrokerLogEnabled, [bool]$ResourceLogEnabled,
        [bool]$TransportHttpLogEnabled, [bool]$TransportMaintenanceLogEnabled, [bool]$TransportSyncAccountsPoisonDetectionEnabled,
        [bool]$TransportSyncEnabled, [bool]$TransportSyncExchangeEnabled, [bool]$TransportSyncHubHealthLogEnabled, [bool]$TransportSyncImapEnabled,
        [bool]$TransportSyncLogEnabled, [bool]$TransportSyncPopEnabled, [bool]$UseDowngradedExchangeServerAuth,
        [bool]$WindowsLiveHotmailTransportSyncEnabled,
        [object[]]$ExternalDNSServers, [object[]]$InternalDNSServers,
        [int]$IntraOrgConnectorSmtpMaxMessagesPerConnection, [int]$MaxConcurrentMailboxDeliveries, [int]$MaxConcurrentMailboxSubmissions,
        [int]$MaxConnectionRatePerMinute, [int]$PickupDirectoryMaxMessagesPerMinute, [int]$PickupDirectoryMaxRecipientsPerMessage,
        [int]$PoisonThreshold, [int]$TransientFailureRetryCount, [int]$TransportSyncAccountsPoisonAccountThreshold,
        [int]$TransportSyncAccountsPoisonItemThreshold, [int]$TransportSyncAccountsSuccessivePoisonItemThreshold,
        [int]$TransportSyncMaxDownloadItemsPerConnection,
        [string]$RootDropDirectoryPath
    )
    Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimServer $Identity -SimBody {
        param($sim)
        $null = $sim.Cmdlet.ShouldProcess($sim.Server.name, 'Set transport service settings (not simulated: accepted and ignored)')
    }
}

#endregion

#region The certificate each receive connector serves for STARTTLS

function Get-SimConnectorServiceName {
    # The transport service that runs a receive connector: on a Mailbox server the Front End
    # Transport service runs the FrontendTransport connectors (25, 587, 717) and the Transport
    # service the HubTransport ones (2525, 465); an Edge server has only the Transport service.
    param($Connector)
    if ([string]$Connector.transportRole -eq 'FrontendTransport') { return 'MSExchangeFrontEndTransport' }
    return 'MSExchangeTransport'
}

function Resolve-SimSmtpCertificate {
    # The certificate a receive connector offers with STARTTLS, as its transport service picks it
    # when it starts: among valid certificates with a private key enabled for SMTP, the one
    # TlsCertificateName names ('<I>issuer<S>subject'), else those covering the connector's FQDN
    # (the server's FQDN when the connector has none); CA-issued before self-signed, then the one
    # that expires last. $null when none qualifies: the connector then offers no STARTTLS.
    param($Server, $Connector)
    $name = [string](Get-SimValue $Connector 'tlsCertificateName' '')
    $fqdn = [string](Get-SimValue $Connector 'fqdn' '')
    if (-not $fqdn) { $fqdn = [string]$Server.fqdn }
    $candidates = @($Server.certificates | Where-Object {
            $record = $_
            (Get-SimCertificateStatus -Record $record) -eq 'Valid' -and [bool]$record.hasPrivateKey -and @($record.services) -contains 'SMTP' -and $(
                if ($name) { Test-SimName (Get-SimTlsCertificateName -Record $record) $name }
                else { @($record.certificateDomains | Where-Object { Test-SimNameCovered -Pattern $_ -Name $fqdn }).Count -gt 0 }
            )
        } | Sort-Object -Property @{ Expression = { [bool]$_.isSelfSigned } }, @{ Expression = { ConvertTo-SimDate $_.notAfter }; Descending = $true })
    if ($candidates.Count -eq 0) { return $null }
    return $candidates[0]
}

function Update-SimSmtpCertificate {
    # Called when a service starts (and for a new server, with -All): each receive connector run by
    # that service serves, from now on, the certificate Resolve-SimSmtpCertificate picks. Changes
    # to certificates and connectors reach SMTP clients only through such a start.
    param($Server, [string]$ServiceName, [switch]$All)
    foreach ($connector in @(Get-SimValue $Server 'receiveConnectors' @())) {
        if (-not $All -and -not (Test-SimName (Get-SimConnectorServiceName -Connector $connector) $ServiceName)) { continue }
        $record = Resolve-SimSmtpCertificate -Server $Server -Connector $connector
        $thumbprint = ''
        if ($null -ne $record) { $thumbprint = [string]$record.thumbprint }
        Set-SimValue $connector 'activeCertificateThumbprint' $thumbprint
    }
}

#endregion

#region POP3 and IMAP4

function Get-SimProtocol {
    # The server's POP3 or IMAP4 settings ('pop', 'imap'); an Edge server has neither.
    param($Server, [string]$Key)
    $protocol = Get-SimValue $Server $Key $null
    if ($null -eq $protocol) {
        throw (New-SimError -Message ('The Edge Transport server ' + $Server.name + ' has no ' + $Key.ToUpperInvariant() + ' service.') -ErrorId 'ProtocolNotOnServer' -Category ObjectNotFound -Target $Server.name)
    }
    return $protocol
}

function ConvertTo-SimProtocolSettings {
    param($Server, [string]$Key)
    $protocol = Get-SimProtocol -Server $Server -Key $Key
    $name = 'POP3'
    $ports = @('995:SSL', '110:TLS')
    if ($Key -eq 'imap') { $name = 'IMAP4'; $ports = @('993:SSL', '143:TLS') }
    $typeName = 'Microsoft.Exchange.Data.Directory.SystemConfiguration.' + $name + 'AdConfiguration'
    return (New-SimView -TypeName $typeName -Display @('Name', 'ProtocolName', 'X509CertificateName') -Property ([ordered]@{
                Name                       = '1'
                Server                     = [string]$Server.name
                ProtocolName               = $name
                X509CertificateName        = [string]$protocol.x509CertificateName
                LoginType                  = 'SecureLogin'
                InternalConnectionSettings = [string[]]@($ports | ForEach-Object { $Server.fqdn + ':' + $_ })
                ExternalConnectionSettings = [string[]]@()
            }))
}

function Invoke-SimSetProtocolSettings {
    # The body of Set-PopSettings and Set-ImapSettings: X509CertificateName is
    # configured now and takes effect when both of the protocol's services
    # have started again (Update-SimProtocolCertificate).
    param([System.Management.Automation.PSCmdlet]$Cmdlet, [string]$Server, [string]$Key, [string]$Label)
    Invoke-SimCommand -SimCmdlet $Cmdlet -SimKind Exchange -SimServer $Server -SimBody {
        param($sim)
        $protocol = Get-SimProtocol -Server $sim.Server -Key $Key
        $bound = $sim.Cmdlet.MyInvocation.BoundParameters
        if (-not $bound.ContainsKey('X509CertificateName')) { return }
        $name = [string]$bound['X509CertificateName']
        if (-not $sim.Cmdlet.ShouldProcess(($Label + ' settings of ' + $sim.Server.name), ('Set X509CertificateName to ' + $name))) { return }
        Set-SimValue $protocol 'x509CertificateName' $name
        Request-SimProtocolRestart -Server $sim.Server -Key $Key
        $sim.Cmdlet.WriteWarning('Changes to ' + $Label + ' settings will only take effect after all Microsoft Exchange ' + $Label + ' services are restarted on server ' + $sim.Server.name + '.')
    }
}

function Request-SimProtocolRestart {
    # A new name or a newly enabled certificate is read when both services have started since.
    param($Server, [string]$Key)
    $protocol = Get-SimValue $Server $Key $null
    if ($null -eq $protocol) { return }
    Set-SimValue $protocol 'pendingRestart' @($protocol.services)
}

function Update-SimProtocolCertificate {
    # Called when a service starts: once both of a protocol's services have
    # started since the change (or, with none pending, its front-end service
    # starts), the protocol serves the certificate for its X509CertificateName,
    # if one qualifies (Resolve-SimProtocolCertificate); if none does, it keeps
    # what it served.
    param($Server, [string]$ServiceName)
    foreach ($key in @('pop', 'imap')) {
        $protocol = Get-SimValue $Server $key $null
        if ($null -eq $protocol) { continue }
        $pending = @(Get-SimValue $protocol 'pendingRestart' @())
        if (@($pending | Where-Object { Test-SimName $_ $ServiceName }).Count -gt 0) {
            $left = @($pending | Where-Object { -not (Test-SimName $_ $ServiceName) })
            Set-SimValue $protocol 'pendingRestart' $left
            if ($left.Count -gt 0) { continue }
        } elseif ($pending.Count -gt 0 -or -not (Test-SimName @($protocol.services)[0] $ServiceName)) {
            continue
        }
        # With no change pending, the front-end service still picks its certificate when it starts,
        # as the real one does (a wildcard, never enabled for POP/IMAP, is found by name alone).
        $name = [string]$protocol.x509CertificateName
        $record = Resolve-SimProtocolCertificate -Server $Server -Key $key -Name $name
        if ($null -eq $record) {
            Set-SimValue $protocol 'lastProblem' ('no valid certificate with a private key that covers ' + $name + ' is enabled for ' + $key.ToUpperInvariant() + ' (or is a wildcard that covers it); still serving ' + [string](Get-SimValue $protocol 'activeCertificateName' ''))
            continue
        }
        Set-SimValue $protocol 'activeCertificateName' $name
        Set-SimValue $protocol 'activeCertificateThumbprint' $record.thumbprint
        Set-SimValue $protocol 'activatedAt' (Format-SimDate -Value (Get-SimNow))
        Set-SimValue $protocol 'lastProblem' ''
    }
}

function Resolve-SimProtocolCertificate {
    # The certificate POP/IMAP serve for a name: valid, with a private key,
    # covering the name, and enabled for the service or a wildcard (Exchange
    # does not enable wildcards for POP/IMAP; the name alone selects them).
    # Among several, the one that expires last.
    param($Server, [string]$Key, [string]$Name)
    $service = $Key.ToUpperInvariant()
    $candidates = @($Server.certificates | Where-Object {
            $record = $_
            (Get-SimCertificateStatus -Record $record) -eq 'Valid' -and [bool]$record.hasPrivateKey -and
            @($record.certificateDomains | Where-Object { Test-SimNameCovered -Pattern $_ -Name $Name }).Count -gt 0 -and
            (@($record.services) -contains $service -or (Test-SimWildcardSubject -Subject $record.subject))
        } | Sort-Object -Property @{ Expression = { ConvertTo-SimDate $_.notAfter } } -Descending)
    if ($candidates.Count -eq 0) { return $null }
    return $candidates[0]
}

function Get-PopSettings {
    [CmdletBinding(DefaultParameterSetName = 'Default', PositionalBinding = $false)]
    param([string]$Server, [object]$DomainController)
    Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimServer $Server -SimBody { param($sim) ConvertTo-SimProtocolSettings -Server $sim.Server -Key 'pop' }
}

function Set-PopSettings {
    [CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Default', PositionalBinding = $false)]
    param(
        [string]$Server, [string]$X509CertificateName,
        [object]$AuthenticatedConnectionTimeout, [object]$CalendarItemRetrievalOption, [object]$DomainController, [object]$ExtendedProtectionPolicy,
        [object]$LogFileRollOverSettings, [object]$LoginType, [object]$LogPerFileSizeQuota, [object]$MessageRetrievalMimeFormat,
        [object]$MessageRetrievalSortOrder, [object]$OwaServerUrl, [object]$PreAuthenticatedConnectionTimeout,
        [string]$Banner, [string]$LogFileLocation,
        [bool]$EnableExactRFC822Size, [bool]$EnableGSSAPIAndNTLMAuth, [bool]$EnforceCertificateErrors, [bool]$ProtocolLogEnabled,
        [bool]$SuppressReadReceipt,
        [object[]]$ExternalConnectionSettings, [object[]]$InternalConnectionSettings, [object[]]$SSLBindings, [object[]]$UnencryptedOrTLSBindings,
        [int]$MaxCommandSize, [int]$MaxConnectionFromSingleIP, [int]$MaxConnections, [int]$MaxConnectionsPerUser, [int]$ProxyTargetPort
    )
    Invoke-SimSetProtocolSettings -Cmdlet $PSCmdlet -Server $Server -Key 'pop' -Label 'POP3'
}

function Get-ImapSettings {
    [CmdletBinding(DefaultParameterSetName = 'Default', PositionalBinding = $false)]
    param([string]$Server, [object]$DomainController)
    Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimServer $Server -SimBody { param($sim) ConvertTo-SimProtocolSettings -Server $sim.Server -Key 'imap' }
}

function Set-ImapSettings {
    [CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Default', PositionalBinding = $false)]
    param(
        [string]$Server, [string]$X509CertificateName,
        [object]$AuthenticatedConnectionTimeout, [object]$CalendarItemRetrievalOption, [object]$DomainController, [object]$ExtendedProtectionPolicy,
        [object]$LogFileRollOverSettings, [object]$LoginType, [object]$LogPerFileSizeQuota, [object]$MessageRetrievalMimeFormat,
        [object]$OwaServerUrl, [object]$PreAuthenticatedConnectionTimeout,
        [string]$Banner, [string]$LogFileLocation,
        [bool]$EnableExactRFC822Size, [bool]$EnableGSSAPIAndNTLMAuth, [bool]$EnforceCertificateErrors, [bool]$ProtocolLogEnabled,
        [bool]$ShowHiddenFoldersEnabled, [bool]$SuppressReadReceipt,
        [object[]]$ExternalConnectionSettings, [object[]]$InternalConnectionSettings, [object[]]$SSLBindings, [object[]]$UnencryptedOrTLSBindings,
        [int]$MaxCommandSize, [int]$MaxConnectionFromSingleIP, [int]$MaxConnections, [int]$MaxConnectionsPerUser, [int]$ProxyTargetPort
    )
    Invoke-SimSetProtocolSettings -Cmdlet $PSCmdlet -Server $Server -Key 'imap' -Label 'IMAP4'
}

#endregion
