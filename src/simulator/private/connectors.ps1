# ExchCertSimulator: send connectors (organisation-wide), receive connectors
# (per server), queues (Get-Queue) and Redirect-Message. Connectors name a
# certificate by issuer and subject (TlsCertificateName '<I>issuer<S>subject').
# A server's queues empty over successive Get-Queue calls while its
# HubTransport component is not Active (each call halves a queue, the next
# empties it); shadow queues only after Redirect-Message, whose target then
# receives the messages. A 'stuck' fault on Get-Queue, or "stuck": true on a
# queue, keeps them.

#region Connectors

function Assert-SimTlsCertificateName {
    # An SmtpX509Identifier: '<I>issuer<S>subject'; empty clears it.
    param([string]$Value)
    if (-not $Value) { return '' }
    if ($Value -notmatch '^<I>.+<S>.+$') {
        throw (New-SimError -Message ('Cannot process argument transformation on parameter ''TlsCertificateName''. "' + $Value + '" isn''t a valid SMTP X.509 identifier: use ''<I>issuer<S>subject''.') -ErrorId 'ParameterArgumentTransformationError' -Category InvalidArgument -Target $Value)
    }
    return $Value
}

function Set-SimConnectorSettings {
    # The settings the simulator keeps, from the bound parameters of Set-SendConnector/Set-ReceiveConnector.
    param($Connector, [System.Collections.IDictionary]$Bound)
    if ($Bound.ContainsKey('TlsCertificateName')) { Set-SimValue $Connector 'tlsCertificateName' (Assert-SimTlsCertificateName -Value ([string]$Bound['TlsCertificateName'])) }
    foreach ($name in @('Enabled', 'RequireTLS')) {
        if ($Bound.ContainsKey($name)) { Set-SimValue $Connector ($name.Substring(0, 1).ToLowerInvariant() + $name.Substring(1)) ([bool]$Bound[$name]) }
    }
    foreach ($name in @('Fqdn', 'Comment')) {
        if ($Bound.ContainsKey($name)) { Set-SimValue $Connector $name.ToLowerInvariant() ([string]$Bound[$name]) }
    }
}

function ConvertTo-SimSendConnector {
    param($Connector)
    return (New-SimView -TypeName 'Microsoft.Exchange.Data.Directory.SystemConfiguration.SmtpSendConnectorConfig' -Display @('Identity', 'AddressSpaces', 'Enabled') -Property ([ordered]@{
                Identity               = [string]$Connector.name
                Name                   = [string]$Connector.name
                AddressSpaces          = [string[]]@($Connector.addressSpaces)
                SourceTransportServers = [string[]]@($Connector.sourceTransportServers)
                SmartHosts             = [string[]]@(Get-SimValue $Connector 'smartHosts' @())
                DNSRoutingEnabled      = [bool](Get-SimValue $Connector 'dnsRoutingEnabled' $true)
                Fqdn                   = [string](Get-SimValue $Connector 'fqdn' '')
                TlsCertificateName     = [string](Get-SimValue $Connector 'tlsCertificateName' '')
                RequireTLS             = [bool](Get-SimValue $Connector 'requireTLS' $false)
                Enabled                = [bool](Get-SimValue $Connector 'enabled' $true)
                Comment                = [string](Get-SimValue $Connector 'comment' '')
                IsScopedConnector      = $false
            }))
}

function Get-SimSendConnectors {
    # The send connectors a server sees: all of them inside the organisation;
    # on an Edge, those EdgeSync brought it (sourced from it) while it is subscribed.
    param($State, $HostServer)
    $all = @(Get-SimValue $State.organization 'sendConnectors' @())
    if (-not (Test-SimEdge $HostServer)) { return $all }
    if ($null -eq (Get-SimValue $HostServer.edge 'subscription' $null)) { return @() }
    return @($all | Where-Object { @($_.sourceTransportServers) -contains $HostServer.name })
}

function Find-SimSendConnector {
    param($State, $HostServer, [string]$Identity)
    $found = @(Get-SimSendConnectors -State $State -HostServer $HostServer | Where-Object { Test-SimName $_.name $Identity })
    if ($found.Count -eq 0) { throw (New-SimNotFoundError -State $State -Identity $Identity) }
    return $found[0]
}

function Get-SendConnector {
    [CmdletBinding(DefaultParameterSetName = 'Default', PositionalBinding = $false)]
    param([Parameter(Position = 0, ValueFromPipelineByPropertyName = $true)][string]$Identity, [object]$DomainController)
    process {
        Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimBody {
            param($sim)
            if ($Identity) { return (ConvertTo-SimSendConnector -Connector (Find-SimSendConnector -State $sim.State -HostServer $sim.Host -Identity $Identity)) }
            foreach ($connector in @(Get-SimSendConnectors -State $sim.State -HostServer $sim.Host)) { ConvertTo-SimSendConnector -Connector $connector }
        }
    }
}

function Set-SendConnector {
    # Acts on TlsCertificateName, Enabled, RequireTLS, Fqdn and Comment; accepts the others.
    [CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Default', PositionalBinding = $false)]
    param(
        [Parameter(Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)][string]$Identity,
        [object]$TlsCertificateName, [bool]$Enabled, [bool]$RequireTLS, [object]$Fqdn, [string]$Comment,
        [object[]]$AddressSpaces, [object[]]$SmartHosts, [object[]]$SourceTransportServers,
        [System.Management.Automation.PSCredential]$AuthenticationCredential,
        [bool]$CloudServicesMailEnabled, [bool]$DNSRoutingEnabled, [bool]$DomainSecureEnabled, [bool]$ForceHELO, [bool]$FrontendProxyEnabled,
        [bool]$IgnoreSTARTTLS, [bool]$IsScopedConnector, [bool]$RequireOorg, [bool]$UseExternalDNSServersEnabled,
        [object]$ConnectionInactivityTimeOut, [object]$ConnectorType, [object]$DomainController, [object]$ErrorPolicies, [object]$MaxMessageSize,
        [object]$ProtocolLoggingLevel, [object]$SmartHostAuthMechanism, [object]$SourceIPAddress, [object]$TlsAuthLevel, [object]$TlsDomain,
        [switch]$Force,
        [string]$Name,
        [int]$Port, [int]$SmtpMaxMessagesPerConnection
    )
    process {
        Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimBody {
            param($sim)
            $connector = Find-SimSendConnector -State $sim.State -HostServer $sim.Host -Identity $Identity
            if (-not $sim.Cmdlet.ShouldProcess($connector.name, 'Set send connector')) { return }
            Set-SimConnectorSettings -Connector $connector -Bound $sim.Cmdlet.MyInvocation.BoundParameters
        }
    }
}

function ConvertTo-SimReceiveConnector {
    param($Server, $Connector)
    return (New-SimView -TypeName 'Microsoft.Exchange.Data.Directory.SystemConfiguration.ReceiveConnector' -Display @('Identity', 'Bindings', 'Enabled') -Property ([ordered]@{
                Identity           = $Server.name + '\' + $Connector.name
                Name               = [string]$Connector.name
                Server             = [string]$Server.name
                Bindings           = [string[]]@($Connector.bindings)
                RemoteIPRanges     = [string[]]@(Get-SimValue $Connector 'remoteIPRanges' @('::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '0.0.0.0-255.255.255.255'))
                TransportRole      = [string]$Connector.transportRole
                Fqdn               = [string](Get-SimValue $Connector 'fqdn' $Server.fqdn)
                TlsCertificateName = [string](Get-SimValue $Connector 'tlsCertificateName' '')
                RequireTLS         = [bool](Get-SimValue $Connector 'requireTLS' $false)
                Enabled            = [bool](Get-SimValue $Connector 'enabled' $true)
                Comment            = [string](Get-SimValue $Connector 'comment' '')
            }))
}

function Find-SimReceiveConnector {
    # 'SERVER\Name', or a name on the host server.
    param($State, $HostServer, [string]$Identity)
    $parts = Split-SimIdentity -Identity $Identity
    $server = $HostServer
    if ($parts[0]) { $server = Resolve-SimTarget -State $State -HostServer $HostServer -Server $parts[0] }
    $found = @(@(Get-SimValue $server 'receiveConnectors' @()) | Where-Object { Test-SimName $_.name $parts[1] })
    if ($found.Count -eq 0) { throw (New-SimNotFoundError -State $State -Identity $Identity) }
    return [pscustomobject]@{ Server = $server; Connector = $found[0] }
}

function Get-ReceiveConnector {
    # Without parameters: every receive connector the host sees.
    [CmdletBinding(DefaultParameterSetName = 'Identity', PositionalBinding = $false)]
    param(
        [Parameter(ParameterSetName = 'Identity', Position = 0, ValueFromPipelineByPropertyName = $true)][string]$Identity,
        [Parameter(ParameterSetName = 'Server')][string]$Server,
        [object]$DomainController
    )
    process {
        Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimServer $Server -SimBody {
            param($sim)
            if ($Identity) {
                $found = Find-SimReceiveConnector -State $sim.State -HostServer $sim.Host -Identity $Identity
                return (ConvertTo-SimReceiveConnector -Server $found.Server -Connector $found.Connector)
            }
            $servers = @($sim.Server)
            if (-not $Server) { $servers = @(Get-SimVisibleServers -State $sim.State -HostServer $sim.Host | Where-Object { (Test-SimEdge $_) -eq (Test-SimEdge $sim.Host) }) }
            foreach ($each in $servers) {
                foreach ($connector in @(Get-SimValue $each 'receiveConnectors' @())) { ConvertTo-SimReceiveConnector -Server $each -Connector $connector }
            }
        }
    }
}

function Set-ReceiveConnector {
    # Acts on TlsCertificateName, Enabled, RequireTLS, Fqdn and Comment; accepts the others.
    [CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Default', PositionalBinding = $false)]
    param(
        [Parameter(Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)][string]$Identity,
        [object]$TlsCertificateName, [bool]$Enabled, [bool]$RequireTLS, [object]$Fqdn, [string]$Comment,
        [bool]$AdvertiseClientSettings, [bool]$BareLinefeedRejectionEnabled, [bool]$BinaryMimeEnabled, [bool]$ChunkingEnabled,
        [bool]$DeliveryStatusNotificationEnabled, [bool]$DomainSecureEnabled, [bool]$EightBitMimeEnabled, [bool]$EnableAuthGSSAPI,
        [bool]$EnhancedStatusCodesEnabled, [bool]$LongAddressesEnabled, [bool]$OrarEnabled, [bool]$PipeliningEnabled,
        [bool]$RejectReservedSecondLevelRecipientDomains, [bool]$RejectReservedTopLevelRecipientDomains, [bool]$RejectSingleLabelRecipientDomains,
        [bool]$RequireEHLODomain, [bool]$SmtpUtf8Enabled, [bool]$SuppressXAnonymousTls,
        [object]$AuthMechanism, [object]$AuthTarpitInterval, [object]$ConnectionInactivityTimeout, [object]$ConnectionTimeout,
        [object]$DefaultDomain, [object]$DomainController, [object]$ExtendedProtectionPolicy, [object]$MaxAcknowledgementDelay,
        [object]$MaxHeaderSize, [object]$MaxInboundConnection, [object]$MaxInboundConnectionPerSource, [object]$MaxMessageSize,
        [object]$MaxProtocolErrors, [object]$MessageRateLimit, [object]$MessageRateSource, [object]$PermissionGroups, [object]$ProtocolLoggingLevel,
        [object]$ServiceDiscoveryFqdn, [object]$SizeEnabled, [object]$TarpitInterval, [object]$TransportRole,
        [string]$Banner, [string]$Name,
        [object[]]$Bindings, [object[]]$RemoteIPRanges, [object[]]$TlsDomainCapabilities,
        [int]$MaxHopCount, [int]$MaxInboundConnectionPercentagePerSource, [int]$MaxLocalHopCount, [int]$MaxLogonFailures,
        [int]$MaxRecipientsPerMessage
    )
    process {
        $parts = Split-SimIdentity -Identity $Identity
        Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimServer $parts[0] -SimBody {
            param($sim)
            $found = Find-SimReceiveConnector -State $sim.State -HostServer $sim.Host -Identity $Identity
            if (-not $sim.Cmdlet.ShouldProcess($found.Server.name + '\' + $found.Connector.name, 'Set receive connector')) { return }
            Set-SimConnectorSettings -Connector $found.Connector -Bound $sim.Cmdlet.MyInvocation.BoundParameters
        }
    }
}

#endregion

#region Queues

function ConvertTo-SimQueue {
    param($Queue)
    return (New-SimView -TypeName 'Microsoft.Exchange.Data.QueueViewer.ExtensibleQueueInfo' -Display @('Identity', 'DeliveryType', 'Status', 'MessageCount', 'NextHopDomain') -Property ([ordered]@{
                Identity      = [string]$Queue.identity
                QueueIdentity = [string]$Queue.identity
                DeliveryType  = [string]$Queue.deliveryType
                Status        = [string]$Queue.status
                MessageCount  = [int]$Queue.messageCount
                NextHopDomain = [string]$Queue.nextHopDomain
                LastError     = [string](Get-SimValue $Queue 'lastError' '')
                IsValid       = $true
            }))
}

function Step-SimQueueDrain {
    # One Get-Queue's worth of delivery on a server whose HubTransport is not
    # Active: each queue halves, then empties; what leaves goes to the
    # Redirect-Message target, if any, else it was delivered.
    param($State, $Server, $Fault)
    if ((Get-SimComponentState -Server $Server -Component 'HubTransport') -eq 'Active') { return }
    if ($null -ne $Fault -and [string](Get-SimValue $Fault 'action' '') -eq 'stuck') { return }
    $target = $null
    $redirect = [string](Get-SimValue $Server.transport 'redirectTarget' '')
    if ($redirect) { $target = Find-SimServer -State $State -Name $redirect }
    foreach ($queue in @(Get-SimValue $Server 'queues' @())) {
        $count = [int]$queue.messageCount
        if ($count -le 0 -or [bool](Get-SimValue $queue 'stuck' $false)) { continue }
        if ($queue.deliveryType -eq 'ShadowRedundancy' -and $null -eq $target) { continue }
        $step = [int](Get-SimValue $queue 'drainStep' 0)
        $left = 0
        if ($step -eq 0) { $left = [int][math]::Floor($count / 2) }
        Set-SimValue $queue 'messageCount' $left
        Set-SimValue $queue 'drainStep' ($step + 1)
        if ($null -ne $target) {
            $submission = @(@(Get-SimValue $target 'queues' @()) | Where-Object { $_.deliveryType -eq 'Undefined' -and $_.nextHopDomain -eq 'Submission' })
            if ($submission.Count -gt 0) { $submission[0].messageCount = [int]$submission[0].messageCount + ($count - $left) }
        }
    }
}

function Test-SimQueueFilter {
    # Get-Queue -Filter: simple comparisons such as "MessageCount -gt 0" or "Status -eq 'Retry'".
    param($View, [string]$Filter)
    if (-not $Filter) { return $true }
    if ($Filter -notmatch '^\s*(\w+)\s+-(eq|ne|gt|lt|ge|le|like)\s+(?:''([^'']*)''|"([^"]*)"|(\S+))\s*$') {
        throw (New-SimError -Message ('ExchCertSimulator: only simple Get-Queue filters are simulated ("Property -op value"), not: ' + $Filter) -ErrorId 'NotSimulated' -Category NotImplemented -Target $Filter)
    }
    $property = $View.PSObject.Properties[$Matches[1]]
    if ($null -eq $property) { return $false }
    $wanted = $Matches[3] + $Matches[4] + $Matches[5]
    $value = $property.Value
    if ($value -is [int]) { $wanted = [int]$wanted }
    switch ($Matches[2]) {
        'eq' { return ($value -eq $wanted) }
        'ne' { return ($value -ne $wanted) }
        'gt' { return ($value -gt $wanted) }
        'lt' { return ($value -lt $wanted) }
        'ge' { return ($value -ge $wanted) }
        'le' { return ($value -le $wanted) }
        default { return ($value -like $wanted) }
    }
}

function Get-Queue {
    [CmdletBinding(DefaultParameterSetName = 'Identity', PositionalBinding = $false)]
    param(
        [Parameter(ParameterSetName = 'Identity', Position = 0, ValueFromPipelineByPropertyName = $true)][object]$Identity,
        [Parameter(ParameterSetName = 'Server')][string]$Server,
        [Parameter(ParameterSetName = 'Server')][string]$Filter,
        [int]$BookmarkIndex, [object]$BookmarkObject, [object]$Exclude, [object]$Include, [bool]$IncludeBookmark, [object]$ResultSize,
        [bool]$ReturnPageInfo, [bool]$SearchForward, [object[]]$SortOrder
    )
    process {
        $queueId = ''
        $target = $Server
        if ($null -ne $Identity) {
            $parts = Split-SimIdentity -Identity ([string]$Identity)
            $target = $parts[0]
            $queueId = [string]$Identity
        }
        Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimServer $target -SimBody {
            param($sim)
            Step-SimQueueDrain -State $sim.State -Server $sim.Server -Fault $sim.Fault
            $queues = @(Get-SimValue $sim.Server 'queues' @())
            if ($queueId) {
                $wanted = $queueId
                if ($wanted.IndexOf('\') -lt 0) { $wanted = $sim.Server.name + '\' + $wanted }
                $queues = @($queues | Where-Object { Test-SimName $_.identity $wanted })
                if ($queues.Count -eq 0) { throw (New-SimNotFoundError -State $sim.State -Identity $queueId) }
            }
            foreach ($queue in $queues) {
                $view = ConvertTo-SimQueue -Queue $queue
                if (Test-SimQueueFilter -View $view -Filter $Filter) { $view }
            }
        }
    }
}

function Redirect-Message {
    # Sends the messages of Server's queues to Target (a Mailbox server, by
    # FQDN or name) as they drain. ConfirmImpact High (unverified): scripts pass -Confirm:$false.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High', DefaultParameterSetName = 'Default', PositionalBinding = $false)]
    param(
        [Parameter(Mandatory = $true)][string]$Server,
        [Parameter(Mandatory = $true)][object[]]$Target
    )
    Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimServer $Server -SimBody {
        param($sim)
        $names = @($Target | ForEach-Object { [string]$_ })
        $targets = @(foreach ($name in $names) {
                $found = Find-SimServer -State $sim.State -Name $name -AllowFqdn
                if ($null -eq $found -or (Test-SimEdge $found)) { throw (New-SimNotFoundError -State $sim.State -Identity $name) }
                if ($found.name -eq $sim.Server.name) { throw (New-SimError -Message ('The target server ' + $name + ' is the server whose messages are redirected.') -ErrorId 'RedirectToSelf' -Category InvalidArgument -Target $name) }
                $found
            })
        if (-not $sim.Cmdlet.ShouldProcess($sim.Server.name, ('Redirect messages to ' + ($names -join ', ')))) { return }
        Set-SimValue $sim.Server.transport 'redirectTarget' ([string]$targets[0].name)
    }
}

#endregion
