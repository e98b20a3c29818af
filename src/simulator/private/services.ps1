# ExchCertSimulator: Windows services of the host server: Get-Service,
# Start-Service, Stop-Service, Restart-Service, and the ServiceController
# objects' WaitForStatus and Refresh. They stand in for compiled cmdlets:
# errors follow the caller's preferences.

function Find-SimService {
    param($Server, [string]$Name)
    foreach ($service in @($Server.services)) {
        if (Test-SimName $service.name $Name) { return $service }
    }
    return $null
}

function Resolve-SimService {
    # Service records for names that may hold wildcards; unknown names are reported in -Missing.
    param($Server, [string[]]$Name, [ref]$Missing)
    $found = New-Object -TypeName System.Collections.Generic.List[object]
    $notFound = New-Object -TypeName System.Collections.Generic.List[string]
    foreach ($pattern in @($Name)) {
        $matched = @($Server.services | Where-Object { $_.name -like $pattern })
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
    return (New-SimError -Message $message -ErrorId 'NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand' -Category ObjectNotFound -Target $Name -Exception $exception)
}

function Get-SimServiceLabel {
    param($Service)
    return ($Service.displayName + ' (' + $Service.name + ')')
}

function Start-SimService {
    # Starts a service in the state. Returns $false when it cannot start (a
    # wont-start fault, or a disabled service); it is then left Stopped.
    param($Server, $State, $Service)
    if ($Service.status -eq 'Running') { return $true }
    if ($Service.startType -eq 'Disabled') { $Service.status = 'Stopped'; return $false }
    if ($null -ne (Use-SimFault -State $State -Service $Service.name -Action 'wont-start' -Server $Server.name)) {
        $Service.status = 'Stopped'
        return $false
    }
    $Service.status = 'Running'
    Update-SimProtocolCertificate -Server $Server -ServiceName $Service.name
    Update-SimSmtpCertificate -Server $Server -ServiceName $Service.name
    return $true
}

function Stop-SimService {
    param($Server, $State, $Service)
    if ($Service.status -eq 'Stopped') { return $true }
    if ($null -ne (Use-SimFault -State $State -Service $Service.name -Action 'wont-stop' -Server $Server.name)) { return $false }
    $Service.status = 'Stopped'
    return $true
}

function ConvertTo-SimServiceController {
    # A Get-Service object (a host object): the properties scripts read, WaitForStatus and Refresh.
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
        $status = Get-SimServiceStatus -Name $this.Name
        if ($null -ne $status) { $this.Status = $status }
    }
    Set-SimDefaultDisplay -Object $controller -Property @('Status', 'Name', 'DisplayName')
    return $controller
}

function Get-SimServiceStatus {
    # The service's status on the host now (one short locked read).
    param([string]$Name)
    return (Use-SimState -Path (Get-SimStatePath) -ReadOnly -Body {
            param($state)
            $service = Find-SimService -Server (Get-SimHost -State $state) -Name $Name
            if ($null -ne $service) { [string]$service.status }
        })
}

function Wait-SimServiceStatus {
    # ServiceController.WaitForStatus: polls the state until the service has
    # the status (the lock only for each read), or throws the TimeoutException
    # the real one throws.
    param($Controller, [string]$DesiredStatus, $Timeout)
    $null = Invoke-SimCommand -SimKind Method -SimCommand 'WaitForStatus' -SimParameters ([ordered]@{ Name = $Controller.Name; Status = $DesiredStatus; Timeout = $Timeout }) -SimBody { param($sim) }
    $deadline = $null
    if ($null -ne $Timeout) { $deadline = (Get-SimNow).Add([timespan]$Timeout) }
    while ($true) {
        $status = Get-SimServiceStatus -Name $Controller.Name
        if ($status -eq $DesiredStatus) {
            $Controller.Status = $status
            return
        }
        if ($null -ne $deadline -and (Get-SimNow) -ge $deadline) { break }
        Start-Sleep -Milliseconds 200
    }
    $message = 'Time out has expired and the operation has not been completed.'
    # The real exception type where it can be made (Windows); off Windows its constructor refuses to run.
    $exception = $null
    try { $exception = New-Object -TypeName System.ServiceProcess.TimeoutException -ArgumentList @($message) } catch { $exception = $null }
    if ($null -eq $exception) { $exception = New-Object -TypeName System.TimeoutException -ArgumentList @($message) }
    throw $exception
}

function Get-Service {
    [CmdletBinding()]
    param([Parameter(Position = 0, ValueFromPipeline = $true, ValueFromPipelineByPropertyName = $true)][Alias('ServiceName')][string[]]$Name = @('*'))
    process {
        Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Host -SimBody {
            param($sim)
            $missing = @()
            $services = Resolve-SimService -Server $sim.Server -Name $Name -Missing ([ref]$missing)
            foreach ($service in $services) { ConvertTo-SimServiceController -Service $service }
            foreach ($missingName in @($missing)) {
                if ($name -notmatch '[*?\[]') { $sim.Errors.Add((New-SimServiceNotFoundError -Name $name)) }
            }
        }
    }
}

function Invoke-SimServiceCommand {
    # Start-/Stop-/Restart-Service: change every named service, save, then
    # report failures as the non-terminating errors the real cmdlets write.
    param([System.Management.Automation.PSCmdlet]$Cmdlet, [string[]]$Name, [string]$Verb, [bool]$PassThru)
    Invoke-SimCommand -SimCmdlet $Cmdlet -SimKind Host -SimBody {
        param($sim)
        $missing = @()
        $services = Resolve-SimService -Server $sim.Server -Name $Name -Missing ([ref]$missing)
        foreach ($missingName in @($missing)) { $sim.Errors.Add((New-SimServiceNotFoundError -Name $missingName)) }
        foreach ($service in $services) {
            $label = Get-SimServiceLabel -Service $service
            if (-not (Test-SimHostShouldProcess -Cmdlet $sim.Cmdlet -Target $label -Action ($Verb + '-Service'))) { continue }
            if ($Verb -ne 'Start' -and -not (Stop-SimService -Server $sim.Server -State $sim.State -Service $service)) {
                $sim.Errors.Add((New-SimError -Message ('Service ''' + $label + ''' cannot be stopped due to the following error: Cannot stop ' + $service.name + ' service on computer ''.''.') -ErrorId ('CouldNotStopService,Microsoft.PowerShell.Commands.' + $Verb + 'ServiceCommand') -Category CloseError -Target $service.name))
                continue
            }
            if ($Verb -ne 'Stop' -and -not (Start-SimService -Server $sim.Server -State $sim.State -Service $service)) {
                $sim.Errors.Add((New-SimError -Message ('Service ''' + $label + ''' cannot be started due to the following error: Cannot start service ' + $service.name + ' on computer ''.''.') -ErrorId ('CouldNotStartService,Microsoft.PowerShell.Commands.' + $Verb + 'ServiceCommand') -Category OpenError -Target $service.name))
                continue
            }
            if ($PassThru) { ConvertTo-SimServiceController -Service $service }
        }
    }
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
