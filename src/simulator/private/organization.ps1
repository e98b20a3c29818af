# ExchCertSimulator: the organisation: Get-ExchangeServer (roles, versions,
# subscribed Edge servers), Get-AuthConfig, Test-ServiceHealth, and the
# server component states of maintenance mode (Get-/Set-ServerComponentState).

# The components of an Exchange 2019 server (Get-ServerComponentState).
$script:MailboxComponents = @('ServerWideOffline', 'HubTransport', 'FrontendTransport', 'Monitoring', 'RecoveryActionsEnabled', 'AutoDiscoverProxy', 'ActiveSyncProxy', 'EcpProxy', 'EwsProxy', 'ImapProxy', 'OabProxy', 'OwaProxy', 'PopProxy', 'PushNotificationsProxy', 'RpsProxy', 'RwsProxy', 'RpcProxy', 'UMCallRouter', 'XropProxy', 'HttpProxyAvailabilityGroup', 'ForwardSyncDaemon', 'ProvisioningRps', 'MapiProxy', 'EdgeTransport', 'HighAvailability', 'SharedCache', 'MailboxDeliveryProxy', 'RoutingUpdates', 'RestProxy', 'DarRuntime')
$script:EdgeComponents = @('ServerWideOffline', 'EdgeTransport', 'Monitoring', 'RecoveryActionsEnabled')
$script:ComponentRequesters = @('HealthAPI', 'Maintenance', 'Sidelined', 'Functional', 'Deployment')
$script:ComponentStates = @('Active', 'Inactive', 'Draining')

function Get-SimVisibleServers {
    # What the host sees: inside the organisation every Mailbox server and the
    # subscribed Edge servers; an Edge server sees only itself.
    param($State, $HostServer)
    if (Test-SimEdge $HostServer) { return @($HostServer) }
    $subscribed = @(@(Get-SimValue $State.organization 'edgeSubscriptions' @()) | ForEach-Object { [string]$_.name })
    return @($State.servers | Where-Object { -not (Test-SimEdge $_) -or $subscribed -contains $_.name })
}

#region Get-ExchangeServer, Get-AuthConfig

function ConvertTo-SimExchangeServer {
    param($Server)
    $edge = Test-SimEdge $Server
    return (New-SimView -TypeName 'Microsoft.Exchange.Data.Directory.Management.ExchangeServer' -Display @('Name', 'Site', 'ServerRole', 'Edition', 'AdminDisplayVersion') -Property ([ordered]@{
                Name                 = [string]$Server.name
                Identity             = [string]$Server.name
                Fqdn                 = [string]$Server.fqdn
                Domain               = [string]$Server.domain
                Site                 = [string]$Server.site
                ServerRole           = [string]$Server.serverRole
                Edition              = [string]$Server.edition
                AdminDisplayVersion  = [string]$Server.adminDisplayVersion
                IsMailboxServer      = (-not $edge)
                IsClientAccessServer = (-not $edge)
                IsHubTransportServer = (-not $edge)
                IsEdgeServer         = $edge
            }))
}

function Get-ExchangeServer {
    [CmdletBinding(DefaultParameterSetName = 'Identity', PositionalBinding = $false)]
    param(
        [Parameter(ParameterSetName = 'Identity', Position = 0, ValueFromPipelineByPropertyName = $true)][string]$Identity,
        [Parameter(ParameterSetName = 'Domain', Mandatory = $true)][string]$Domain,
        [object]$DomainController,
        [switch]$Status
    )
    process {
        Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimBody {
            param($sim)
            $servers = @(Get-SimVisibleServers -State $sim.State -HostServer $sim.Host)
            if ($Identity) {
                $servers = @($servers | Where-Object { (Test-SimName $_.name $Identity) -or (Test-SimName $_.fqdn $Identity) })
                if ($servers.Count -eq 0) { throw (New-SimNotFoundError -State $sim.State -Identity $Identity) }
            }
            if ($Domain) { $servers = @($servers | Where-Object { Test-SimName $_.domain $Domain }) }
            foreach ($server in $servers) { ConvertTo-SimExchangeServer -Server $server }
        }
    }
}

function Get-AuthConfig {
    [CmdletBinding(DefaultParameterSetName = 'Default', PositionalBinding = $false)]
    param([object]$DomainController)
    Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimBody {
        param($sim)
        $auth = $sim.State.organization.authConfig
        New-SimView -TypeName 'Microsoft.Exchange.Data.Directory.SystemConfiguration.AuthConfig' -Property ([ordered]@{
                Identity                      = 'Auth Configuration'
                CurrentCertificateThumbprint  = [string]$auth.currentCertificateThumbprint
                PreviousCertificateThumbprint = [string](Get-SimValue $auth 'previousCertificateThumbprint' '')
                NextCertificateThumbprint     = [string](Get-SimValue $auth 'nextCertificateThumbprint' '')
                ServiceName                   = '00000002-0000-0ff1-ce00-000000000000'
                Realm                         = ''
            })
    }
}

#endregion

#region Test-ServiceHealth

function Test-ServiceHealth {
    # Per role of the server: are its required services that start
    # automatically running? Returns the role objects and writes an error for
    # each required service that is not running.
    [CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Default', PositionalBinding = $false)]
    param(
        [Parameter(Position = 0, ValueFromPipelineByPropertyName = $true)][string]$Server,
        [int]$ActiveDirectoryTimeout,
        [object]$DomainController,
        [bool]$MonitoringContext
    )
    process {
        Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimServer $Server -SimBody {
            param($sim)
            $reported = @{}
            foreach ($role in @($sim.Server.roles)) {
                $running = New-Object -TypeName System.Collections.Generic.List[string]
                $notRunning = New-Object -TypeName System.Collections.Generic.List[string]
                foreach ($name in @($role.requiredServices)) {
                    $service = Find-SimService -Server $sim.Server -Name $name
                    if ($null -ne $service -and $service.startType -ne 'Automatic') { continue }
                    if ($null -ne $service -and $service.status -eq 'Running') { $running.Add($name); continue }
                    $notRunning.Add($name)
                    if (-not $reported.ContainsKey($name)) {
                        $reported[$name] = $true
                        $status = 'not installed'
                        if ($null -ne $service) { $status = [string]$service.status }
                        $sim.Errors.Add((New-SimError -Message ('The required service ' + $name + ' of the ' + $role.role + ' is set to start automatically but isn''t running on server ' + $sim.Server.name + ' (current status: ' + $status + ').') -ErrorId 'RequiredServiceNotRunning' -Category ResourceUnavailable -Target $name))
                    }
                }
                New-SimView -TypeName 'Microsoft.Exchange.Monitoring.ServerHealthInfo' -Display @('Role', 'RequiredServicesRunning', 'ServicesRunning', 'ServicesNotRunning') -Property ([ordered]@{
                        Role                    = [string]$role.role
                        RequiredServicesRunning = ($notRunning.Count -eq 0)
                        ServicesRunning         = [string[]]$running.ToArray()
                        ServicesNotRunning      = [string[]]$notRunning.ToArray()
                    })
            }
        }
    }
}

#endregion

#region Server component states

function Get-SimComponentState {
    # A component's state: Inactive if any requester set it Inactive, else
    # Draining if any set it Draining, else Active.
    param($Server, [string]$Component)
    $entry = @(@(Get-SimValue $Server 'componentStates' @()) | Where-Object { Test-SimName $_.component $Component })
    if ($entry.Count -eq 0) { return 'Active' }
    $states = @(@(Get-SimValue $entry[0] 'requesters' @()) | ForEach-Object { [string]$_.state })
    if ($states -contains 'Inactive') { return 'Inactive' }
    if ($states -contains 'Draining') { return 'Draining' }
    return 'Active'
}

function Get-SimComponentNames {
    param($Server)
    if (Test-SimEdge $Server) { return $script:EdgeComponents }
    return $script:MailboxComponents
}

function ConvertTo-SimComponentState {
    param($Server, [string]$Component)
    $entry = @(@(Get-SimValue $Server 'componentStates' @()) | Where-Object { Test-SimName $_.component $Component })
    $local = @()
    if ($entry.Count -gt 0) {
        $local = @(foreach ($requester in @(Get-SimValue $entry[0] 'requesters' @())) {
                New-SimView -TypeName 'Microsoft.Exchange.Data.Directory.Management.ServerComponentStatePresentationObject+RequesterDetails' -Property ([ordered]@{ Requester = [string]$requester.requester; State = [string]$requester.state; Timestamp = (ConvertTo-SimDate $requester.timestamp).ToLocalTime() })
            })
    }
    return (New-SimView -TypeName 'Microsoft.Exchange.Data.Directory.Management.ServerComponentStatePresentationObject' -Display @('Server', 'Component', 'State') -Property ([ordered]@{
                Server      = [string]$Server.fqdn
                Component   = $Component
                State       = Get-SimComponentState -Server $Server -Component $Component
                LocalStates = $local
            }))
}

function Get-ServerComponentState {
    [CmdletBinding(DefaultParameterSetName = 'Default', PositionalBinding = $false)]
    param(
        [Parameter(Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)][string]$Identity,
        [string]$Component,
        [object]$DomainController
    )
    process {
        Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimServer $Identity -SimBody {
            param($sim)
            $names = @(Get-SimComponentNames -Server $sim.Server)
            if ($Component) {
                $names = @($names | Where-Object { Test-SimName $_ $Component })
                if ($names.Count -eq 0) { throw (New-SimError -Message ('The component ''' + $Component + ''' isn''t a server component of ' + $sim.Server.name + '.') -ErrorId 'ComponentNotFound' -Category ObjectNotFound -Target $Component) }
            }
            foreach ($name in $names) { ConvertTo-SimComponentState -Server $sim.Server -Component $name }
        }
    }
}

function Set-ServerComponentState {
    # Each requester's state is kept; the component's state is the worst of them.
    [CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Default', PositionalBinding = $false)]
    param(
        [Parameter(Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)][string]$Identity,
        [Parameter(Mandatory = $true)][string]$Component,
        [Parameter(Mandatory = $true)][string]$Requester,
        [Parameter(Mandatory = $true)][string]$State,
        [object]$DomainController,
        [switch]$LocalOnly,
        [switch]$RemoteOnly,
        [int]$TimeoutInSeconds
    )
    Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimServer $Identity -SimBody {
        param($sim)
        $server = $sim.Server
        $name = @(Get-SimComponentNames -Server $server | Where-Object { Test-SimName $_ $Component })
        if ($name.Count -eq 0) { throw (New-SimError -Message ('The component ''' + $Component + ''' isn''t a server component of ' + $server.name + '.') -ErrorId 'ComponentNotFound' -Category ObjectNotFound -Target $Component) }
        $stateName = @($script:ComponentStates | Where-Object { Test-SimName $_ $State })
        if ($stateName.Count -eq 0) { throw (New-SimError -Message ('Cannot process argument transformation on parameter ''State''. Cannot convert value "' + $State + '" to type "Microsoft.Exchange.Data.ServiceState". Valid values: ' + ($script:ComponentStates -join ', ') + '.') -ErrorId 'ParameterArgumentTransformationError' -Category InvalidArgument -Target $State) }
        $requesterName = @($script:ComponentRequesters | Where-Object { Test-SimName $_ $Requester })
        if ($requesterName.Count -eq 0) { throw (New-SimError -Message ('The requester ''' + $Requester + ''' isn''t valid. Valid values: ' + ($script:ComponentRequesters -join ', ') + '.') -ErrorId 'InvalidRequester' -Category InvalidArgument -Target $Requester) }
        if (-not $sim.Cmdlet.ShouldProcess(($server.name + ' ' + $name[0]), ('Set state ' + $stateName[0] + ' for requester ' + $requesterName[0]))) { return }
        $entries = @(Get-SimValue $server 'componentStates' @())
        $entry = @($entries | Where-Object { Test-SimName $_.component $name[0] })
        if ($entry.Count -eq 0) {
            $entry = @([pscustomobject][ordered]@{ component = $name[0]; requesters = @() })
            Set-SimValue $server 'componentStates' @($entries + $entry[0])
        }
        $others = @(@(Get-SimValue $entry[0] 'requesters' @()) | Where-Object { -not (Test-SimName $_.requester $requesterName[0]) })
        $entry[0].requesters = @($others + [pscustomobject][ordered]@{ requester = $requesterName[0]; state = $stateName[0]; timestamp = (Format-SimDate -Value (Get-SimNow)) })
        if ($name[0] -eq 'HubTransport' -and (Get-SimComponentState -Server $server -Component 'HubTransport') -eq 'Active') {
            # Back in service: no more redirection, and a later drain starts again by halving.
            Set-SimValue $server.transport 'redirectTarget' ''
            foreach ($queue in @(Get-SimValue $server 'queues' @())) { Set-SimValue $queue 'drainStep' 0 }
        }
    }
}

#endregion
