# ExchCertSimulator: IIS on the host server. Get-WebBinding and New-WebBinding
# (WebAdministration), the binding objects' AddSslCertificate and
# RemoveSslCertificate, Require SSL per site (Get/Set-WebConfigurationProperty
# of system.webServer/security/access sslFlags), netsh http show/update
# sslcert, and iisreset, which ends the Exchange PowerShell sessions of its
# server. Module functions win over cmdlets and executables of the same name,
# so these shadow the real ones wherever the module is imported.
#
# A binding's certificate is its http.sys SSL binding: IIS '*:443:' is
# ipport=0.0.0.0:443, '127.0.0.1:443:' is ipport=127.0.0.1:443, and an SNI
# binding '*:443:host' (sslFlags 1) is hostnameport=host:443. Bindings that
# map to the same http.sys binding share its certificate.

$script:IisServices = @('IISADMIN', 'WAS', 'W3SVC')
$script:IisAppId = '{4dc3e181-e14b-4a21-b022-59fc669b0914}'

#region Sites and bindings

function Assert-SimIis {
    # An Edge Transport server has no IIS: its IIS commands do not exist.
    param($Context)
    if ($null -ne (Get-SimValue $Context.Server 'iis' $null)) { return }
    $message = 'The term ''' + $Context.Command + ''' is not recognized as a name of a cmdlet, function, script file, or executable program. (ExchCertSimulator: ' + $Context.Server.name + ' is an Edge Transport server, without IIS.)'
    $exception = New-Object -TypeName System.Management.Automation.CommandNotFoundException -ArgumentList @($message)
    throw (New-SimError -Terminating -Message $message -ErrorId 'CommandNotFoundException' -Category ObjectNotFound -Target $Context.Command -Exception $exception)
}

function Get-SimSite {
    param($Server, [string]$Name)
    foreach ($site in @($Server.iis.sites)) {
        if (Test-SimName $site.name $Name) { return $site }
    }
    throw (New-SimError -Message ('Cannot find the IIS site ''' + $Name + '''.') -ErrorId 'SiteNotFound' -Category ObjectNotFound -Target $Name)
}

function Get-SimSiteXPath {
    param($Site)
    return ("/system.applicationHost/sites/site[@name='" + $Site.name + "' and @id='" + $Site.id + "']")
}

function Get-SimHttpSysKey {
    # The http.sys SSL binding of an https IIS binding, as netsh names it.
    param($Binding)
    $parts = ([string]$Binding.bindingInformation).Split(':')
    $ip = $parts[0]
    if ($ip -eq '*' -or -not $ip) { $ip = '0.0.0.0' }
    if (([int](Get-SimValue $Binding 'sslFlags' 0) -band 1) -and $parts.Count -ge 3 -and $parts[2]) {
        return ('hostnameport=' + $parts[2] + ':' + $parts[1]).ToLowerInvariant()
    }
    return ('ipport=' + $ip + ':' + $parts[1]).ToLowerInvariant()
}

function Get-SimHttpsBindings {
    # Every https binding of the server, with its site.
    param($Server)
    $iis = Get-SimValue $Server 'iis' $null
    if ($null -eq $iis) { return @() }
    foreach ($site in @($iis.sites)) {
        foreach ($binding in @($site.bindings)) {
            if ($binding.protocol -eq 'https') { [pscustomobject]@{ Site = $site; Binding = $binding; Key = (Get-SimHttpSysKey -Binding $binding) } }
        }
    }
}

function Get-SimBindingUse {
    # Every https binding that serves the thumbprint, as 'site bindingInformation'.
    param($Server, [string]$Thumbprint)
    $thumbprint = ConvertTo-SimThumbprint -Thumbprint $Thumbprint
    foreach ($entry in @(Get-SimHttpsBindings -Server $Server)) {
        if ((ConvertTo-SimThumbprint -Thumbprint ([string]$entry.Binding.certificateHash)) -eq $thumbprint) { $entry.Site.name + ' ' + $entry.Binding.bindingInformation }
    }
}

function Set-SimHttpSysCertificate {
    # Gives an http.sys binding a certificate: every IIS binding on it shows it.
    param($Server, [string]$Key, [string]$Thumbprint, [string]$StoreName = 'My', [string]$AppId = $script:IisAppId)
    foreach ($entry in @(Get-SimHttpsBindings -Server $Server)) {
        if ($entry.Key -ne $Key) { continue }
        Set-SimValue $entry.Binding 'certificateHash' $Thumbprint
        Set-SimValue $entry.Binding 'certificateStoreName' $StoreName
        Set-SimValue $entry.Binding 'appId' $AppId
    }
}

function Set-SimBindingCertificate {
    # Points an https binding at a certificate, creating the binding when missing.
    param($Server, [string]$SiteName, [string]$BindingInformation, [string]$Thumbprint)
    $site = Get-SimSite -Server $Server -Name $SiteName
    $binding = @($site.bindings | Where-Object { $_.protocol -eq 'https' -and $_.bindingInformation -eq $BindingInformation })
    if ($binding.Count -eq 0) {
        $new = New-SimBinding -Protocol 'https' -BindingInformation $BindingInformation -Thumbprint ''
        $site.bindings = @(@($site.bindings) + $new)
        $binding = @($new)
    }
    Set-SimHttpSysCertificate -Server $Server -Key (Get-SimHttpSysKey -Binding $binding[0]) -Thumbprint $Thumbprint
}

function New-SimBinding {
    param([string]$Protocol, [string]$BindingInformation, [string]$Thumbprint = '', [int]$SslFlags = 0)
    $store = ''
    if ($Thumbprint) { $store = 'My' }
    return [pscustomobject][ordered]@{ protocol = $Protocol; bindingInformation = $BindingInformation; sslFlags = $SslFlags; certificateHash = $Thumbprint; certificateStoreName = $store }
}

function ConvertTo-SimWebBinding {
    # A Get-WebBinding object: a host object (WebAdministration), so it keeps
    # the AddSslCertificate/RemoveSslCertificate methods.
    param($Site, $Binding)
    $object = [pscustomobject][ordered]@{
        protocol             = [string]$Binding.protocol
        bindingInformation   = [string]$Binding.bindingInformation
        sslFlags             = [int](Get-SimValue $Binding 'sslFlags' 0)
        isDsMapperEnabled    = $false
        certificateHash      = [string](Get-SimValue $Binding 'certificateHash' '')
        certificateStoreName = [string](Get-SimValue $Binding 'certificateStoreName' '')
        ItemXPath            = Get-SimSiteXPath -Site $Site
    }
    $object.PSObject.TypeNames.Insert(0, 'Microsoft.IIs.PowerShell.Framework.ConfigurationElement#site#bindings#binding')
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
    $stored = Invoke-SimCommand -SimKind Method -SimCommand $command -SimParameters $parameters -SimBody {
        param($sim)
        $site = @($sim.Server.iis.sites | Where-Object { (Get-SimSiteXPath -Site $_) -eq $Binding.ItemXPath })
        if ($site.Count -eq 0) { throw ('The site of this binding no longer exists: ' + $Binding.ItemXPath) }
        $record = @($site[0].bindings | Where-Object { $_.protocol -eq $Binding.protocol -and $_.bindingInformation -eq $Binding.bindingInformation })
        if ($record.Count -eq 0) { throw ('The binding ' + $Binding.bindingInformation + ' no longer exists.') }
        $key = Get-SimHttpSysKey -Binding $record[0]
        if ($Remove) {
            Set-SimHttpSysCertificate -Server $sim.Server -Key $key -Thumbprint '' -StoreName ''
        } else {
            $thumbprint = ConvertTo-SimThumbprint -Thumbprint $Thumbprint
            $certificate = Find-SimCertificate -Server $sim.Server -Thumbprint $thumbprint
            if ($null -eq $certificate -or -not (Test-SimName $StoreName 'My') -or -not $certificate.hasPrivateKey) {
                throw ('A specified logon session does not exist. It may already have been terminated. (Exception from HRESULT: 0x80070520) [simulator: no certificate ' + $thumbprint + ' with a private key in the ' + $StoreName + ' store]')
            }
            # http.sys refuses to add an SSL binding that exists (ERROR_ALREADY_EXISTS).
            $existing = @(Get-SimHttpsBindings -Server $sim.Server | Where-Object { $_.Key -eq $key -and [string](Get-SimValue $_.Binding 'certificateHash' '') })
            if ($existing.Count -gt 0) {
                throw ('Cannot create a file when that file already exists. (Exception from HRESULT: 0x800700B7) [simulator: ' + $key + ' already has certificate ' + $existing[0].Binding.certificateHash + '; call RemoveSslCertificate() first, or replace it in place with netsh http update sslcert]')
            }
            Set-SimHttpSysCertificate -Server $sim.Server -Key $key -Thumbprint $thumbprint -StoreName 'My'
        }
        $record[0]
    }
    $Binding.certificateHash = [string](Get-SimValue $stored 'certificateHash' '')
    $Binding.certificateStoreName = [string](Get-SimValue $stored 'certificateStoreName' '')
}

function Get-WebBinding {
    # -Name is a site name, taken literally (no wildcards).
    [CmdletBinding()]
    param(
        [Parameter(Position = 0)][string]$Name,
        [string]$Protocol,
        [int]$Port = 0,
        [string]$IPAddress,
        [string]$HostHeader
    )
    Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Host -SimBody {
        param($sim)
        Assert-SimIis -Context $sim
        foreach ($site in @($sim.Server.iis.sites)) {
            if ($Name -and -not (Test-SimName $site.name $Name)) { continue }
            foreach ($binding in @($site.bindings)) {
                $parts = ([string]$binding.bindingInformation).Split(':')
                if ($Protocol -and $binding.protocol -ne $Protocol) { continue }
                if ($Port -and $parts.Count -ge 2 -and $parts[1] -ne [string]$Port) { continue }
                if ($IPAddress -and $parts[0] -ne $IPAddress) { continue }
                if ($sim.Cmdlet.MyInvocation.BoundParameters.ContainsKey('HostHeader') -and $parts.Count -ge 3 -and $parts[2] -ne $HostHeader) { continue }
                ConvertTo-SimWebBinding -Site $site -Binding $binding
            }
        }
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
    Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Host -SimBody {
        param($sim)
        Assert-SimIis -Context $sim
        $site = Get-SimSite -Server $sim.Server -Name $Name
        $information = $IPAddress + ':' + $Port + ':' + $HostHeader
        if (@($site.bindings | Where-Object { $_.protocol -eq $Protocol -and $_.bindingInformation -eq $information }).Count -gt 0) {
            throw (New-SimError -Message ('Cannot add duplicate collection entry of type ''binding'' with combined key attributes ''protocol, bindingInformation'' respectively set to ''' + $Protocol + ', ' + $information + '''') -ErrorId 'DuplicateBinding' -Category ResourceExists -Target $information)
        }
        $binding = New-SimBinding -Protocol $Protocol -BindingInformation $information -SslFlags $SslFlags
        if ($Protocol -eq 'https') {
            # A new binding on an http.sys binding that has a certificate shows it at once.
            $shared = @(Get-SimHttpsBindings -Server $sim.Server | Where-Object { $_.Key -eq (Get-SimHttpSysKey -Binding $binding) -and [string](Get-SimValue $_.Binding 'certificateHash' '') })
            if ($shared.Count -gt 0) { $binding.certificateHash = $shared[0].Binding.certificateHash; $binding.certificateStoreName = $shared[0].Binding.certificateStoreName }
        }
        $site.bindings = @(@($site.bindings) + $binding)
    }
}

#endregion

#region Require SSL

function Resolve-SimAccessSection {
    # Require SSL lives in system.webServer/security/access, attribute sslFlags, per site.
    param($Context, [string[]]$Filter, [string[]]$Name, [string[]]$PSPath, [string[]]$Location)
    $filterText = (([string]($Filter | Select-Object -First 1)).Trim('/')).ToLowerInvariant()
    if ($filterText -ne 'system.webserver/security/access' -or -not (Test-SimName ([string]($Name | Select-Object -First 1)) 'sslFlags')) {
        throw (New-SimError -Message ('ExchCertSimulator: only the sslFlags attribute of system.webServer/security/access (Require SSL) is simulated, not ' + ($Filter -join ',') + ' ' + ($Name -join ',') + '.') -ErrorId 'NotSimulated' -Category NotImplemented)
    }
    $siteName = [string]($Location | Select-Object -First 1)
    $path = [string]($PSPath | Select-Object -First 1)
    if (-not $siteName -and $path -match '^IIS:\\Sites\\([^\\]+)') { $siteName = $Matches[1] }
    if (-not $siteName) { throw (New-SimError -Message 'ExchCertSimulator: name the site with -PSPath ''IIS:\Sites\<site>'' or -PSPath ''MACHINE/WEBROOT/APPHOST'' -Location ''<site>''.' -ErrorId 'NotSimulated' -Category InvalidArgument) }
    return (Get-SimSite -Server $Context.Server -Name $siteName.Split('/')[0])
}

function Get-WebConfigurationProperty {
    # Returns the site's sslFlags: 'Ssl' with Require SSL on, 'None' without.
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true, Position = 0)][string[]]$Filter,
        [Parameter(Mandatory = $true, Position = 1)][string[]]$Name,
        [string[]]$PSPath,
        [string[]]$Location
    )
    Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Host -SimBody {
        param($sim)
        Assert-SimIis -Context $sim
        $site = Resolve-SimAccessSection -Context $sim -Filter $Filter -Name $Name -PSPath $PSPath -Location $Location
        if ([bool](Get-SimValue $site 'requireSsl' $false)) { 'Ssl' } else { 'None' }
    }
}

function Set-WebConfigurationProperty {
    # A value with the Ssl flag ('Ssl', 'Ssl,Ssl128') turns Require SSL on; 'None' turns it off.
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [Parameter(Mandatory = $true, Position = 0)][string[]]$Filter,
        [Parameter(Position = 1)][object]$Value,
        [Parameter(Mandatory = $true)][string]$Name,
        [string[]]$PSPath,
        [string[]]$Location
    )
    Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Host -SimBody {
        param($sim)
        Assert-SimIis -Context $sim
        $site = Resolve-SimAccessSection -Context $sim -Filter $Filter -Name @($Name) -PSPath $PSPath -Location $Location
        $flags = @(([string]$Value) -split '[,\s]+' | Where-Object { $_ })
        if (Test-SimHostShouldProcess -Cmdlet $sim.Cmdlet -Target $site.name -Action ('Set sslFlags to ' + $Value)) {
            Set-SimValue $site 'requireSsl' (@($flags | Where-Object { Test-SimName $_ 'Ssl' }).Count -gt 0)
        }
    }
}

#endregion

#region netsh http

function netsh {
    # Stands in for netsh.exe's 'http show sslcert' and 'http update sslcert':
    # prints what netsh prints and sets $LASTEXITCODE, never a PowerShell error.
    [CmdletBinding()]
    param([Parameter(ValueFromRemainingArguments = $true)][string[]]$Arguments = @())
    Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Host -SimBody {
        param($sim)
        $fault = $sim.Fault
        if ($null -ne $fault -and [string](Get-SimValue $fault 'action' '') -eq 'exit') {
            $global:LASTEXITCODE = [int](Get-SimValue $fault 'code' 1)
            return @((Get-SimFaultMessage -Fault $fault -Command 'netsh') -split "`r?`n")
        }
        $words = @($Arguments | ForEach-Object { [string]$_ })
        $options = @{}
        foreach ($word in $words) {
            $index = $word.IndexOf('=')
            if ($index -gt 0) { $options[$word.Substring(0, $index).ToLowerInvariant()] = $word.Substring($index + 1) }
        }
        $verbs = @($words | Where-Object { $_.IndexOf('=') -lt 0 } | ForEach-Object { $_.ToLowerInvariant() })
        $result = $null
        if (($verbs -join ' ') -eq 'http show sslcert') { $result = Show-SimSslCert -Server $sim.Server -Options $options }
        elseif (($verbs -join ' ') -eq 'http update sslcert') { $result = Update-SimSslCert -Server $sim.Server -Options $options }
        else { $result = @{ Code = 1; Lines = @('', ('ExchCertSimulator: netsh ' + ($words -join ' ') + ' is not simulated (only http show sslcert and http update sslcert).'), '') } }
        $global:LASTEXITCODE = $result.Code
        $result.Lines
    }
}

function Get-SimSslCertKey {
    # 'ipport=0.0.0.0:443' or 'hostnameport=mail.contoso.com:443' from netsh's options.
    param([hashtable]$Options)
    if ($Options.ContainsKey('ipport')) { return ('ipport=' + $Options['ipport']).ToLowerInvariant() }
    if ($Options.ContainsKey('hostnameport')) { return ('hostnameport=' + $Options['hostnameport']).ToLowerInvariant() }
    return $null
}

function Show-SimSslCert {
    param($Server, [hashtable]$Options)
    $lines = New-Object -TypeName System.Collections.Generic.List[string]
    foreach ($line in @('', 'SSL Certificate bindings:', '-------------------------', '')) { $lines.Add($line) }
    $wanted = Get-SimSslCertKey -Options $Options
    $seen = @{}
    foreach ($entry in @(Get-SimHttpsBindings -Server $Server)) {
        $hash = [string](Get-SimValue $entry.Binding 'certificateHash' '')
        if (-not $hash -or $seen.ContainsKey($entry.Key) -or ($wanted -and $entry.Key -ne $wanted)) { continue }
        $seen[$entry.Key] = $true
        $kind = 'IP:port                 '
        if ($entry.Key.StartsWith('hostnameport=')) { $kind = 'Hostname:port           ' }
        $lines.Add('    ' + $kind + '     : ' + $entry.Key.Substring($entry.Key.IndexOf('=') + 1))
        $lines.Add('    Certificate Hash             : ' + $hash.ToLowerInvariant())
        $lines.Add('    Application ID               : ' + [string](Get-SimValue $entry.Binding 'appId' $script:IisAppId))
        $lines.Add('    Certificate Store Name       : ' + [string](Get-SimValue $entry.Binding 'certificateStoreName' 'My'))
        foreach ($line in @('    Verify Client Certificate Revocation : Enabled', '    Verify Revocation Using Cached Client Certificate Only : Disabled', '    Usage Check                  : Enabled', '    Revocation Freshness Time    : 0', '    URL Retrieval Timeout        : 0', '    Ctl Identifier               : (null)', '    Ctl Store Name               : (null)', '    DS Mapper Usage              : Disabled', '    Negotiate Client Certificate : Disabled', '    Reject Connections           : Disabled', '    Disable HTTP2                : Not Set', '')) { $lines.Add($line) }
    }
    if ($wanted -and $seen.Count -eq 0) {
        $lines.Add('The system cannot find the file specified. ')
        $lines.Add('')
        return @{ Code = 1; Lines = $lines.ToArray() }
    }
    return @{ Code = 0; Lines = $lines.ToArray() }
}

function Update-SimSslCert {
    # Replaces the certificate of an existing http.sys binding in one change:
    # there is no moment without a certificate.
    param($Server, [hashtable]$Options)
    $key = Get-SimSslCertKey -Options $Options
    if (-not $key -or -not $Options.ContainsKey('certhash') -or -not $Options.ContainsKey('appid')) {
        return @{ Code = 1; Lines = @('', 'One or more essential parameters were not entered.', 'Verify the required parameters, and reenter them.', 'The syntax supplied for this command is not valid. Check help for the correct syntax.', '') }
    }
    $existing = @(Get-SimHttpsBindings -Server $Server | Where-Object { $_.Key -eq $key -and [string](Get-SimValue $_.Binding 'certificateHash' '') })
    if ($existing.Count -eq 0) {
        return @{ Code = 1; Lines = @('', 'SSL Certificate update failed, Error: 2', 'The system cannot find the file specified. ', '') }
    }
    $thumbprint = ConvertTo-SimThumbprint -Thumbprint ([string]$Options['certhash'])
    $store = 'MY'
    if ($Options.ContainsKey('certstorename')) { $store = [string]$Options['certstorename'] }
    $certificate = Find-SimCertificate -Server $Server -Thumbprint $thumbprint
    if ($thumbprint -notmatch '^[0-9A-F]{40}$' -or $null -eq $certificate -or -not $certificate.hasPrivateKey -or -not (Test-SimName $store 'My')) {
        return @{ Code = 1; Lines = @('', 'SSL Certificate update failed, Error: 1312', 'A specified logon session does not exist. It may already have been terminated.', '') }
    }
    Set-SimHttpSysCertificate -Server $Server -Key $key -Thumbprint $thumbprint -StoreName $store -AppId ([string]$Options['appid'])
    return @{ Code = 0; Lines = @('', 'SSL Certificate successfully updated', '') }
}

#endregion

#region iisreset

function iisreset {
    # Stands in for iisreset.exe: prints its lines, sets $LASTEXITCODE, never
    # writes PowerShell errors for IIS failures (a native tool only has exit
    # codes). A restart ends the server's Exchange PowerShell sessions.
    [CmdletBinding()]
    param([Parameter(ValueFromRemainingArguments = $true)][string[]]$Arguments = @())
    Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Host -SimBody {
        param($sim)
        Assert-SimIis -Context $sim
        $server = $sim.Server
        $switches = @($Arguments | ForEach-Object { ([string]$_).ToLowerInvariant() })
        $lines = New-Object -TypeName System.Collections.Generic.List[string]
        $exitCode = 0
        $iis = @($script:IisServices | ForEach-Object { Find-SimService -Server $server -Name $_ } | Where-Object { $null -ne $_ })
        $fault = $sim.Fault
        if ($null -ne $fault -and [string](Get-SimValue $fault 'action' '') -eq 'exit') {
            $exitCode = [int](Get-SimValue $fault 'code' 1)
            $lines.Add('Attempting stop...')
            foreach ($line in ((Get-SimFaultMessage -Fault $fault -Command 'iisreset') -split "`r?`n")) { $lines.Add($line) }
        } elseif ($switches -contains '/status') {
            foreach ($service in $iis) { $lines.Add('Status for ' + $service.displayName + ' ( ' + $service.name + ' ) : ' + $service.status) }
        } else {
            $stop = ($switches -notcontains '/start')
            $start = ($switches -notcontains '/stop')
            if ($stop) {
                $lines.Add('Attempting stop...')
                foreach ($service in $iis) { $null = Stop-SimService -Server $server -State $sim.State -Service $service }
                $lines.Add('Internet services successfully stopped')
            }
            if ($start) {
                $lines.Add('Attempting start...')
                $failed = @($iis | Where-Object { -not (Start-SimService -Server $server -State $sim.State -Service $_) })
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
            if ($stop) {
                # The /PowerShell endpoint lives in IIS: stopping IIS ends every Exchange session on it.
                Set-SimValue $server.iis 'resets' ([int](Get-SimValue $server.iis 'resets' 0) + 1)
                Set-SimValue $server.iis 'lastResetAt' (Format-SimDate -Value (Get-SimNow))
                Set-SimValue $server.iis 'lastResetEndedSessions' @(Stop-SimExchangeSessions -Server $server)
            }
        }
        $global:LASTEXITCODE = $exitCode
        $lines.ToArray()
    }
}

function Stop-SimExchangeSessions {
    # Ends the processes of the server's registered Exchange sessions
    # (Register-ExchCertSimulatorSession), as the end of IIS's /PowerShell
    # application ends the remote sessions. Returns their process ids.
    param($Server)
    $kept = New-Object -TypeName System.Collections.Generic.List[object]
    foreach ($session in @(Get-SimValue $Server 'sessions' @())) {
        $process = Get-SimSessionProcess -Session $session
        if ($null -eq $process) { continue }
        if ([string]$session.kind -ne 'exchange' -or [int]$session.pid -eq $PID) { $kept.Add($session); continue }
        try { $process.Kill() } catch { $null = $_ }
        [int]$session.pid
    }
    Set-SimValue $Server 'sessions' $kept.ToArray()
}

function Get-SimSessionProcess {
    # The live process of a registered session; a reused process id (another start time) is not it.
    param($Session)
    try {
        $process = [System.Diagnostics.Process]::GetProcessById([int]$Session.pid)
    } catch {
        return $null
    }
    $started = [string](Get-SimValue $Session 'startedAt' '')
    # Processes compute start times from the boot time each on their own (Linux): allow a second.
    if ($started -and [math]::Abs(($process.StartTime.ToUniversalTime() - (ConvertTo-SimDate $started)).TotalSeconds) -gt 1) { return $null }
    return $process
}

#endregion
