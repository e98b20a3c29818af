# ExchCertSimulator: Edge subscriptions and EdgeSync, as the seed's notes show
# them. On the Edge, New-EdgeSubscription -FileName writes a subscription file
# that carries the Edge's current default SMTP certificate and a bootstrap
# account (expires after -AccountExpiryDuration, default 24 hours); inside the
# organisation, New-EdgeSubscription -FileData -Site creates the subscription
# and the connectors its flags ask for. EdgeSync works while the subscription
# holds the Edge's current SMTP certificate; once that certificate changes it
# fails with "The supplied credential is invalid." until the subscription is
# made again.

$script:EdgeSubscriptionPrompt = 'If you create an Edge Subscription, this Edge Transport server will be managed via EdgeSync replication. As a result, any of the following objects that were created manually will be deleted: accepted domains, message classifications, remote domains, and Send connectors. After creating the Edge Subscription, you must manage these objects from inside the organization and allow EdgeSync to update the Edge Transport server. Also, the InternalSMTPServers list of the TransportConfig object will be overwritten during the synchronization process.' + [Environment]::NewLine +
'EdgeSync requires that this Edge Transport server is able to resolve the FQDN of the Hub Transport servers in the Active Directory site to which the Edge Transport server is being subscribed, and those Hub Transport servers be able to resolve the FQDN of this Edge Transport server. You should complete the Edge Subscription inside the organization in the next "{0}" minutes before the bootstrap account expires.'

function Get-SimEdgeSyncStatus {
    # Whether the organisation can replicate to a subscribed Edge now.
    param($State, $Subscription)
    $edge = Find-SimServer -State $State -Name $Subscription.name
    if ($null -eq $edge) { return @{ Status = 'CouldNotConnect'; Failure = 'The LDAP server is unavailable.' } }
    $adam = Find-SimService -Server $edge -Name 'ADAM_MSExchange'
    if ($null -ne $adam -and $adam.status -ne 'Running') { return @{ Status = 'CouldNotConnect'; Failure = 'The LDAP server is unavailable.' } }
    $current = ConvertTo-SimThumbprint -Thumbprint ([string]$edge.transport.internalTransportCertificateThumbprint)
    if ($null -eq (Get-SimValue $edge.edge 'subscription' $null) -or $current -ne (ConvertTo-SimThumbprint -Thumbprint ([string]$Subscription.certificateThumbprint))) {
        return @{ Status = 'CouldNotConnect'; Failure = 'The supplied credential is invalid.' }
    }
    return @{ Status = 'Normal'; Failure = '' }
}

function Get-SimEdgeSubscriptions {
    # The subscriptions the host sees: the organisation's, or on an Edge its own.
    param($State, $HostServer)
    if (-not (Test-SimEdge $HostServer)) { return @(Get-SimValue $State.organization 'edgeSubscriptions' @()) }
    $own = Get-SimValue $HostServer.edge 'subscription' $null
    if ($null -eq $own) { return @() }
    return @([pscustomobject]@{ name = $HostServer.name; site = $own.site; domain = $HostServer.domain })
}

function Get-EdgeSubscription {
    [CmdletBinding(DefaultParameterSetName = 'Default', PositionalBinding = $false)]
    param([Parameter(Position = 0, ValueFromPipelineByPropertyName = $true)][string]$Identity, [object]$DomainController)
    process {
        Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimBody {
            param($sim)
            $subscriptions = @(Get-SimEdgeSubscriptions -State $sim.State -HostServer $sim.Host)
            if ($Identity) {
                $subscriptions = @($subscriptions | Where-Object { Test-SimName $_.name $Identity })
                if ($subscriptions.Count -eq 0) { throw (New-SimNotFoundError -State $sim.State -Identity $Identity) }
            }
            foreach ($subscription in $subscriptions) {
                New-SimView -TypeName 'Microsoft.Exchange.Data.Directory.SystemConfiguration.EdgeSubscription' -Display @('Name', 'Site', 'Domain') -Property ([ordered]@{
                        Name     = [string]$subscription.name
                        Identity = [string]$subscription.name
                        Site     = [string]$subscription.site
                        Domain   = [string]$subscription.domain
                    })
            }
        }
    }
}

function New-EdgeSubscription {
    # -FileName on the Edge; -FileData and -Site inside the organisation.
    [CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Default', PositionalBinding = $false)]
    param(
        [timespan]$AccountExpiryDuration = [timespan]::FromMinutes(1440),
        [bool]$CreateInboundSendConnector = $true,
        [bool]$CreateInternetSendConnector = $true,
        [object]$DomainController,
        [byte[]]$FileData,
        [object]$FileName,
        [switch]$Force,
        [string]$Site
    )
    Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimBody {
        param($sim)
        if (Test-SimEdge $sim.Host) {
            if ($null -ne $FileData) { throw (New-SimError -Message 'The FileData parameter is used inside the organization (on a Mailbox server); on the Edge Transport server use -FileName.' -ErrorId 'FileDataOnEdge' -Category InvalidArgument) }
            if (-not $FileName) { throw (New-SimError -Message 'Use -FileName to name the Edge Subscription file to create.' -ErrorId 'FileNameRequired' -Category InvalidArgument) }
            Export-SimEdgeSubscriptionFile -Context $sim -FileName (Resolve-SimPath -Path ([string]$FileName)) -Duration $AccountExpiryDuration -Force ([bool]$Force)
            return
        }
        if ($FileName) { throw (New-SimError -Message 'The FileName parameter is used on the Edge Transport server; inside the organization pass the file''s bytes with -FileData and the Active Directory site with -Site.' -ErrorId 'FileNameInOrganization' -Category InvalidArgument) }
        if ($null -eq $FileData -or -not $Site) { throw (New-SimError -Message 'Inside the organization, New-EdgeSubscription needs -FileData (the Edge Subscription file''s bytes) and -Site.' -ErrorId 'FileDataRequired' -Category InvalidArgument) }
        Import-SimEdgeSubscriptionFile -Context $sim -FileData $FileData -Site $Site -Internet $CreateInternetSendConnector -Inbound $CreateInboundSendConnector
    }
}

function Export-SimEdgeSubscriptionFile {
    # On the Edge: Exchange's confirmation (unless -Force or -Confirm:$false),
    # a new bootstrap account, and the file.
    param($Context, [string]$FileName, [timespan]$Duration, [bool]$Force)
    $edge = $Context.Server
    if ($Duration -lt [timespan]::FromMinutes(2)) { throw (New-SimError -Message 'The AccountExpiryDuration must be at least 00:02:00.' -ErrorId 'AccountExpiryTooShort' -Category InvalidArgument -Target $Duration) }
    $certificate = Find-SimCertificate -Server $edge -Thumbprint ([string]$edge.transport.internalTransportCertificateThumbprint)
    if ($null -eq $certificate) { throw (New-SimError -Message ('The Edge Transport server ' + $edge.name + ' has no default SMTP certificate; enable one for SMTP first.') -ErrorId 'NoSmtpCertificate') }
    $prompt = $script:EdgeSubscriptionPrompt -f [int]$Duration.TotalMinutes
    # -WhatIf stops here; -Confirm prompts here; either way the question has been settled.
    if (-not $Context.Cmdlet.ShouldProcess($prompt, $prompt, 'Confirm')) { return }
    $confirmed = $Force -or $Context.Cmdlet.MyInvocation.BoundParameters.ContainsKey('Confirm')
    if (-not $confirmed) {
        $yesToAll = $false
        $noToAll = $false
        try {
            $confirmed = $Context.Cmdlet.ShouldContinue($prompt, 'Confirm', [ref]$yesToAll, [ref]$noToAll)
        } catch {
            throw (New-SimError -Message ($prompt + [Environment]::NewLine + 'Confirmation required, but it cannot be given: ' + $_.Exception.Message + ' Use -Force to create the Edge Subscription without a prompt.') -ErrorId 'ConfirmationRequired' -Target $edge.name)
        }
        if (-not $confirmed) { return }
    }
    # The Edge is not in the domain: its clock may be off (clockOffsetSeconds), and the file says its time.
    $now = (Get-SimNow).AddSeconds([double](Get-SimValue $edge 'clockOffsetSeconds' 0))
    $secret = New-Object -TypeName byte[] -ArgumentList 24
    [System.Security.Cryptography.RandomNumberGenerator]::Create().GetBytes($secret)
    $account = [pscustomobject][ordered]@{
        account               = 'ESRA.' + $edge.name + '.' + [guid]::NewGuid().ToString('N').Substring(0, 8)
        password              = [Convert]::ToBase64String($secret)
        createdAt             = Format-SimDate -Value $now
        expiresAt             = Format-SimDate -Value ($now + $Duration)
        certificateThumbprint = $certificate.thumbprint
    }
    Set-SimValue $edge.edge 'bootstrap' $account
    $xml = New-Object -TypeName System.Text.StringBuilder
    $null = $xml.AppendLine('<?xml version="1.0" encoding="utf-8"?>').AppendLine('<EdgeSubscriptionData>')
    $fields = [ordered]@{ EdgeServerName = $edge.name; EdgeServerFQDN = $edge.fqdn; EdgeCertificateBlob = [Convert]::ToBase64String((Get-SimCertificateRawData -Record $certificate)); PoisonThreshold = '2'; ESRAUsername = $account.account; ESRAPassword = $account.password; EffectiveTime = $account.createdAt; Duration = $Duration.ToString(); AdamSslPort = [string](Get-SimValue $edge.edge 'adamSslPort' 50636); ServerType = 'Edge'; ProductID = $edge.edition; VersionNumber = '15.2'; SerialNumber = $edge.adminDisplayVersion }
    foreach ($key in $fields.Keys) { $null = $xml.AppendLine('  <' + $key + '>' + [System.Security.SecurityElement]::Escape([string]$fields[$key]) + '</' + $key + '>') }
    $null = $xml.AppendLine('</EdgeSubscriptionData>')
    [System.IO.File]::WriteAllText($FileName, $xml.ToString(), (New-Object -TypeName System.Text.UTF8Encoding -ArgumentList @($false)))
}

function Import-SimEdgeSubscriptionFile {
    # Inside the organisation: the file must come from an Edge server of the
    # simulated organisation, within its bootstrap account's lifetime.
    param($Context, [byte[]]$FileData, [string]$Site, [bool]$Internet, [bool]$Inbound)
    $state = $Context.State
    try {
        $document = New-Object -TypeName System.Xml.XmlDocument
        $document.LoadXml([System.Text.Encoding]::UTF8.GetString($FileData).TrimStart([char]0xFEFF))
        $data = $document.DocumentElement
        $edgeName = [string]$data.EdgeServerName
        $blob = [Convert]::FromBase64String([string]$data.EdgeCertificateBlob)
    } catch {
        throw (New-SimError -Message ('The Edge Subscription file isn''t valid: ' + $_.Exception.Message) -ErrorId 'InvalidSubscriptionFile' -Category InvalidData)
    }
    $edge = Find-SimServer -State $state -Name $edgeName
    if ($null -eq $edge -or -not (Test-SimEdge $edge)) { throw (New-SimError -Message ('The Edge Subscription file names ' + $edgeName + ', which is not an Edge Transport server that this organization can reach.') -ErrorId 'UnknownEdge' -Category ObjectNotFound -Target $edgeName) }
    $siteName = [string]$state.organization.site
    if (-not (Test-SimName $Site $siteName) -and -not (Test-SimName $Site ($state.organization.domain + '/Configuration/Sites/' + $siteName))) { throw (New-SimNotFoundError -State $state -Identity $Site) }
    $existing = @(Get-SimValue $state.organization 'edgeSubscriptions' @())
    if (@($existing | Where-Object { Test-SimName $_.name $edge.name }).Count -gt 0) {
        throw (New-SimError -Message ('An Edge Subscription for ' + $edge.name + ' already exists. Remove it with Remove-EdgeSubscription ' + $edge.name + ' first.') -ErrorId 'SubscriptionExists' -Category ResourceExists -Target $edge.name)
    }
    $bootstrap = Get-SimValue $edge.edge 'bootstrap' $null
    if ($null -eq $bootstrap -or [string]$bootstrap.account -ne [string]$data.ESRAUsername -or [string]$bootstrap.password -ne [string]$data.ESRAPassword) {
        throw (New-SimError -Message ('Couldn''t create the Edge Subscription: the bootstrap account in the file isn''t valid on ' + $edge.name + ' (an older file, or it was already used). Create a new Edge Subscription file on the Edge Transport server.') -ErrorId 'InvalidBootstrapAccount' -Target $edge.name)
    }
    if ((Get-SimNow) -ge (ConvertTo-SimDate $bootstrap.expiresAt)) {
        throw (New-SimError -Message ('Couldn''t create the Edge Subscription: the file''s bootstrap account expired at ' + $bootstrap.expiresAt + ' (it lasts AccountExpiryDuration, 24 hours by default). Create a new Edge Subscription file on ' + $edge.name + ' and import it in time.') -ErrorId 'BootstrapAccountExpired' -Target $edge.name)
    }
    $x509 = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2 -ArgumentList @(, $blob)
    $thumbprint = $x509.Thumbprint.ToUpperInvariant()
    $x509.Reset()
    $now = Format-SimDate -Value (Get-SimNow)
    $subscription = [pscustomobject][ordered]@{ name = $edge.name; fqdn = $edge.fqdn; site = ($state.organization.domain + '/Configuration/Sites/' + $siteName); domain = $edge.domain; certificateThumbprint = $thumbprint; createdAt = $now; lastSyncAt = '' }
    Set-SimValue $state.organization 'edgeSubscriptions' @($existing + $subscription)
    Set-SimValue $edge.edge 'subscription' ([pscustomobject][ordered]@{ site = $subscription.site; createdAt = $now; certificateThumbprint = $thumbprint })
    Set-SimValue $edge.edge 'bootstrap' $null
    $connectors = @(Get-SimValue $state.organization 'sendConnectors' @())
    foreach ($connector in @(New-SimEdgeSyncConnectors -Edge $edge -Site $siteName -Internet $Internet -Inbound $Inbound)) {
        $connectors = @($connectors | Where-Object { -not (Test-SimName $_.name $connector.name) }) + $connector
    }
    Set-SimValue $state.organization 'sendConnectors' $connectors
}

function New-SimEdgeSyncConnectors {
    # The send connectors a subscription creates, named as Exchange names them.
    param($Edge, [string]$Site, [bool]$Internet, [bool]$Inbound)
    if ($Internet) {
        [pscustomobject][ordered]@{ name = ('EdgeSync - ' + $Site + ' to Internet'); addressSpaces = @('SMTP:*;100'); sourceTransportServers = @($Edge.name); smartHosts = @(); dnsRoutingEnabled = $true; fqdn = ''; tlsCertificateName = ''; requireTLS = $false; enabled = $true; comment = ''; edgeSync = $Edge.name }
    }
    if ($Inbound) {
        [pscustomobject][ordered]@{ name = ('EdgeSync - Inbound to ' + $Site); addressSpaces = @('SMTP:--;100'); sourceTransportServers = @($Edge.name); smartHosts = @('--'); dnsRoutingEnabled = $false; fqdn = ''; tlsCertificateName = ''; requireTLS = $false; enabled = $true; comment = ''; edgeSync = $Edge.name }
    }
}

function Remove-EdgeSubscription {
    # Inside the organisation: the subscription, its connectors and the Edge's
    # place in Get-ExchangeServer; on the Edge: its side of the subscription.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High', DefaultParameterSetName = 'Default', PositionalBinding = $false)]
    param(
        [Parameter(Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)][string]$Identity,
        [object]$DomainController,
        [switch]$Force
    )
    process {
        Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimBody {
            param($sim)
            $state = $sim.State
            $subscriptions = @(Get-SimEdgeSubscriptions -State $state -HostServer $sim.Host | Where-Object { Test-SimName $_.name $Identity })
            if ($subscriptions.Count -eq 0) { throw (New-SimNotFoundError -State $state -Identity $Identity) }
            $name = [string]$subscriptions[0].name
            # -Force answers the confirmation; -WhatIf still only tells.
            $whatIf = [bool]$sim.Cmdlet.MyInvocation.BoundParameters['WhatIf']
            if (-not (($Force -and -not $whatIf) -or $sim.Cmdlet.ShouldProcess($name, 'Remove Edge Subscription'))) { return }
            if (Test-SimEdge $sim.Host) {
                Set-SimValue $sim.Host.edge 'subscription' $null
                return
            }
            Set-SimValue $state.organization 'edgeSubscriptions' @(@(Get-SimValue $state.organization 'edgeSubscriptions' @()) | Where-Object { -not (Test-SimName $_.name $name) })
            Set-SimValue $state.organization 'sendConnectors' @(@(Get-SimValue $state.organization 'sendConnectors' @()) | Where-Object { -not (Test-SimName ([string](Get-SimValue $_ 'edgeSync' '')) $name) })
        }
    }
}

function Assert-SimOrganizationHost {
    param($Context)
    if (Test-SimEdge $Context.Host) { throw (New-SimError -Message ($Context.Command + ' runs inside the organization (on a Mailbox server), not on the Edge Transport server ' + $Context.Host.name + '.') -ErrorId 'NotOnEdge' -Category InvalidOperation) }
}

function Get-SimTargetSubscriptions {
    param($Context, [string]$TargetServer)
    $subscriptions = @(Get-SimValue $Context.State.organization 'edgeSubscriptions' @())
    if ($TargetServer) { $subscriptions = @($subscriptions | Where-Object { (Test-SimName $_.name $TargetServer) -or (Test-SimName $_.fqdn $TargetServer) }) }
    if ($subscriptions.Count -eq 0) { throw (New-SimError -Message 'No Edge Subscriptions were found for EdgeSync to synchronize.' -ErrorId 'NoEdgeSubscription' -Category ObjectNotFound -Target $TargetServer) }
    return $subscriptions
}

function Start-EdgeSynchronization {
    # One result per kind of data (Recipients, Configuration) and Edge, as in the seed's notes.
    [CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Default', PositionalBinding = $false)]
    param([switch]$ForceFullSync, [switch]$ForceUpdateCookie, [string]$Server, [string]$TargetServer)
    Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimServer $Server -SimBody {
        param($sim)
        Assert-SimOrganizationHost -Context $sim
        foreach ($subscription in @(Get-SimTargetSubscriptions -Context $sim -TargetServer $TargetServer)) {
            if (-not $sim.Cmdlet.ShouldProcess($subscription.name, 'Start EdgeSync')) { continue }
            $status = Get-SimEdgeSyncStatus -State $sim.State -Subscription $subscription
            $now = (Get-SimNow).ToLocalTime()
            $result = 'Success'
            if ($status.Status -ne 'Normal') { $result = $status.Status } else { Set-SimValue $subscription 'lastSyncAt' (Format-SimDate -Value (Get-SimNow)) }
            foreach ($type in @('Recipients', 'Configuration')) {
                New-SimView -TypeName 'Microsoft.Exchange.EdgeSync.Common.SyncResult' -Display @('Result', 'Type', 'Name') -Property ([ordered]@{
                        Result = $result; Type = $type; Name = [string]$subscription.name; FailureDetails = $status.Failure
                        StartUTC = $now; EndUTC = $now; Added = 0; Deleted = 0; Updated = 0; Scanned = 0; TargetScanned = 0
                    })
            }
        }
    }
}

function Test-EdgeSynchronization {
    # SyncStatus Normal while the subscription holds the Edge's current SMTP certificate.
    [CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Default', PositionalBinding = $false)]
    param(
        [Parameter(ParameterSetName = 'SingleValidation', Mandatory = $true)][object]$VerifyRecipient,
        [Parameter(ParameterSetName = 'Default')][switch]$ExcludeRecipientTest,
        [Parameter(ParameterSetName = 'Default')][switch]$FullCompareMode,
        [Parameter(ParameterSetName = 'Default')][object]$MaxReportSize,
        [Parameter(ParameterSetName = 'Default')][bool]$MonitoringContext,
        [Parameter(ParameterSetName = 'Default')][string]$TargetServer,
        [object]$DomainController
    )
    Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimBody {
        param($sim)
        Assert-SimOrganizationHost -Context $sim
        if ($null -ne $VerifyRecipient) { throw (New-SimError -Message 'ExchCertSimulator: Test-EdgeSynchronization -VerifyRecipient is not simulated (there are no recipients).' -ErrorId 'NotSimulated' -Category NotImplemented) }
        foreach ($subscription in @(Get-SimTargetSubscriptions -Context $sim -TargetServer $TargetServer)) {
            $status = Get-SimEdgeSyncStatus -State $sim.State -Subscription $subscription
            $part = 'Synchronized'
            if ($status.Status -ne 'Normal') { $part = 'Skipped' }
            $last = $null
            if ([string](Get-SimValue $subscription 'lastSyncAt' '')) { $last = (ConvertTo-SimDate $subscription.lastSyncAt).ToLocalTime() }
            New-SimView -TypeName 'Microsoft.Exchange.Management.SystemConfigurationTasks.SynchronizationStatus' -Display @('SyncStatus', 'Name', 'FailureDetail') -Property ([ordered]@{
                    SyncStatus = $status.Status; UtcNow = (Get-SimNow); Name = [string]$subscription.name; LeaseHolder = [string]$sim.Host.name; LeaseType = 'Option'
                    FailureDetail = $status.Failure; LastSynchronizedUtc = $last; CredentialStatus = $part; TransportServerStatus = $part; TransportConfigStatus = $part
                    AcceptedDomainStatus = $part; RemoteDomainStatus = $part; SendConnectorStatus = $part; MessageClassificationStatus = $part; RecipientStatus = $part
                })
        }
    }
}
