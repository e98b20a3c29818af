# ExchCertSimulator: the life of every simulated command (Invoke-SimCommand):
# the calls log, injected faults, how errors reach the caller, and the
# Exchange PowerShell session that an iisreset ends.

# Native tools: an "exit" fault gives them an exit code instead of ending the process.
$script:NativeCommands = @('iisreset', 'netsh')

# Per state file: the IIS reset count of each server when this module was
# imported (or first used that file). A higher count later means IIS was
# restarted under this session.
$script:SessionBaselines = @{}

#region Calls log

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
    param($State, [string]$Command, [string]$Server, [string]$HostName, [System.Collections.IDictionary]$Parameters)
    $logged = [ordered]@{}
    if ($null -ne $Parameters) {
        foreach ($key in @($Parameters.Keys)) {
            $logged[[string]$key] = ConvertTo-SimLogValue -Name ([string]$key) -Value $Parameters[$key]
        }
    }
    $entry = [pscustomobject][ordered]@{ command = $Command; server = $Server; host = $HostName; parameters = [pscustomobject]$logged; at = (Format-SimDate -Value (Get-SimNow)) }
    Set-SimValue $State 'calls' @(@(Get-SimValue $State 'calls' @()) + $entry)
}

#endregion

#region Faults

function Use-SimFault {
    # Finds the first fault for a command (or for a service and action) on a
    # server, counts it down, drops it when it reaches zero, and returns it.
    param($State, [string]$Command, [string]$Service, [string]$Action, [string]$Server)
    $faults = @(Get-SimValue $State 'faults' @())
    foreach ($fault in $faults) {
        if ($Command) {
            if (-not (Test-SimName ([string](Get-SimValue $fault 'command' '')) $Command)) { continue }
        } else {
            if (-not (Test-SimName ([string](Get-SimValue $fault 'service' '')) $Service)) { continue }
            if ([string](Get-SimValue $fault 'action' '') -ne $Action) { continue }
        }
        $target = [string](Get-SimValue $fault 'server' '')
        if ($target -and -not (Test-SimName $target $Server)) { continue }
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

function Get-SimFaultMessage {
    param($Fault, [string]$Command)
    $message = [string](Get-SimValue $Fault 'message' '')
    if (-not $message) { $message = 'ExchCertSimulator: injected fault in ' + $Command }
    return $message
}

#endregion

#region Errors

function New-SimError {
    # Builds an error record. -Terminating marks what a host cmdlet throws
    # instead of writing (Exchange cmdlets write every error, see Invoke-SimCommand).
    param(
        [Parameter(Mandatory = $true)][string]$Message,
        [string]$ErrorId = 'ExchCertSimulatorError',
        [System.Management.Automation.ErrorCategory]$Category = [System.Management.Automation.ErrorCategory]::InvalidOperation,
        $Target = $null,
        [switch]$Terminating,
        [System.Exception]$Exception
    )
    if ($null -eq $Exception) { $Exception = New-Object -TypeName System.InvalidOperationException -ArgumentList @($Message) }
    if ($Terminating) { $Exception.Data['ExchCertSimulator.Terminating'] = $true }
    return (New-Object -TypeName System.Management.Automation.ErrorRecord -ArgumentList @($Exception, $ErrorId, $Category, $Target))
}

function Write-SimHostError {
    # Host cmdlets stand in for compiled cmdlets, which see the CALLER's
    # $ErrorActionPreference (a module function would only see the global
    # one); errors marked terminating end the command.
    param([Parameter(Mandatory = $true)][System.Management.Automation.PSCmdlet]$Cmdlet, [Parameter(Mandatory = $true)][System.Management.Automation.ErrorRecord]$ErrorRecord)
    if ($ErrorRecord.Exception.Data.Contains('ExchCertSimulator.Terminating')) { $Cmdlet.ThrowTerminatingError($ErrorRecord) }
    $bound = $Cmdlet.MyInvocation.BoundParameters
    if ($bound.ContainsKey('ErrorAction')) {
        $ErrorActionPreference = $bound['ErrorAction']
    } else {
        $ErrorActionPreference = $Cmdlet.SessionState.PSVariable.GetValue('ErrorActionPreference')
    }
    $Cmdlet.WriteError($ErrorRecord)
}

function Write-SimCommandError {
    # Exchange cmdlets write every error, as implicit-remoting proxies deliver
    # them: non-terminating, following only -ErrorAction and the module's (that
    # is, the global) preference, never the caller's local $ErrorActionPreference.
    param([System.Management.Automation.PSCmdlet]$Cmdlet, [string]$Kind, [System.Management.Automation.ErrorRecord]$ErrorRecord)
    if ($Kind -eq 'Method') { throw $ErrorRecord }
    if ($Kind -eq 'Exchange') {
        $Cmdlet.WriteError($ErrorRecord)
    } else {
        Write-SimHostError -Cmdlet $Cmdlet -ErrorRecord $ErrorRecord
    }
}

function Test-SimHostShouldProcess {
    # ShouldProcess with the caller's -WhatIf/-Confirm preferences, as a compiled cmdlet sees them.
    param([System.Management.Automation.PSCmdlet]$Cmdlet, [string]$Target, [string]$Action)
    $bound = $Cmdlet.MyInvocation.BoundParameters
    if (-not $bound.ContainsKey('WhatIf')) { $WhatIfPreference = $Cmdlet.SessionState.PSVariable.GetValue('WhatIfPreference') }
    if (-not $bound.ContainsKey('Confirm')) { $ConfirmPreference = $Cmdlet.SessionState.PSVariable.GetValue('ConfirmPreference') }
    return $Cmdlet.ShouldProcess($Target, $Action)
}

#endregion

#region The Exchange PowerShell session

function Initialize-SimSessionBaseline {
    # Records every server's IIS reset count for this state file, once.
    param($State, [string]$Path)
    $known = $script:SessionBaselines[$Path]
    if ($null -ne $known -and $known.Id -eq [string]$State.id) { return }
    $resets = @{}
    foreach ($server in @($State.servers)) { $resets[[string]$server.name] = Get-SimIisResetCount -Server $server }
    $script:SessionBaselines[$Path] = @{ Id = [string]$State.id; Resets = $resets }
}

function Get-SimIisResetCount {
    param($Server)
    $iis = Get-SimValue $Server 'iis' $null
    if ($null -eq $iis) { return 0 }
    return [int](Get-SimValue $iis 'resets' 0)
}

function Get-SimSessionEndedError {
    # The session of this module (in-process: the Exchange session) goes
    # through the /PowerShell endpoint of the server it is on; an iisreset
    # there since the import ends it.
    param($State, [string]$Path, $HostServer)
    $baseline = $script:SessionBaselines[$Path]
    $name = [string]$HostServer.name
    if (-not $baseline.Resets.ContainsKey($name)) { $baseline.Resets[$name] = Get-SimIisResetCount -Server $HostServer }
    if ((Get-SimIisResetCount -Server $HostServer) -le [int]$baseline.Resets[$name]) { return $null }
    $at = [string](Get-SimValue $HostServer.iis 'lastResetAt' '')
    $message = 'ExchCertSimulator: the Exchange PowerShell session ended: IIS was restarted on ' + $name + ' at ' + $at + ', and the /PowerShell endpoint lives in IIS. Connect again (a new PSSession and Import-PSSession; in-process: Import-Module -Force).'
    $exception = New-Object -TypeName System.Management.Automation.Remoting.PSRemotingTransportException -ArgumentList @($message)
    return (New-SimError -Message $message -ErrorId 'SessionEnded' -Category ConnectionError -Target $name -Exception $exception)
}

#endregion

#region The life of a command

function Resolve-SimTarget {
    # The server a command acts on: the one it names (Exchange cmdlets'
    # -Server/-Identity) or the host. An Edge server knows only itself, and is
    # managed only on itself.
    param($State, $HostServer, [string]$Server, [switch]$NameOnly)
    if (-not $Server) { return $HostServer }
    $target = Find-SimServer -State $State -Name $Server -AllowFqdn:(-not $NameOnly)
    if ($null -eq $target -or ((Test-SimEdge $HostServer) -and $target.name -ne $HostServer.name)) {
        throw (New-SimNotFoundError -State $State -Identity $Server)
    }
    if ((Test-SimEdge $target) -and $target.name -ne $HostServer.name) {
        throw (New-SimError -Message ('The Edge Transport server ' + $target.name + ' isn''t managed from ' + $HostServer.name + ': run the command in the Exchange Management Shell on ' + $target.name + ' (ExchCertSimulator: set EXCH_CERT_SIMULATOR_HOST=' + $target.name + ').') -ErrorId 'EdgeNotManagedRemotely' -Target $Server)
    }
    return $target
}

function Invoke-SimCommand {
    <#
    Every simulated command runs here, in one locked read-modify-write: read
    the state, log the call, check the session (Exchange cmdlets), apply a
    fault, run SimBody with a context (State, Server = the target, Host,
    Cmdlet, Fault, Errors), save, unlock; then write the output, the errors
    the body deferred ($sim.Errors) and its error. A "hang" fault sleeps
    between two locked phases, never holding the lock. SimKind says how
    errors leave: Exchange (always written), Host (like a compiled cmdlet),
    Method (thrown, as from a .NET method; no SimCmdlet).
    Parameters carry a Sim prefix: the body is a script block of the calling
    cmdlet and sees this function's variables (dynamic scope).
    #>
    param(
        [System.Management.Automation.PSCmdlet]$SimCmdlet,
        [Parameter(Mandatory = $true)][ValidateSet('Exchange', 'Host', 'Method')][string]$SimKind,
        [Parameter(Mandatory = $true)][scriptblock]$SimBody,
        [string]$SimServer,
        [switch]$SimNameOnly,
        [string]$SimCommand,
        [System.Collections.IDictionary]$SimParameters
    )
    if (-not $SimCommand) { $SimCommand = $SimCmdlet.MyInvocation.MyCommand.Name }
    if ($null -eq $SimParameters -and $null -ne $SimCmdlet) { $SimParameters = $SimCmdlet.MyInvocation.BoundParameters }
    $simContext = [pscustomobject]@{ Command = $SimCommand; Kind = $SimKind; Cmdlet = $SimCmdlet; Path = ''; State = $null; Server = $null; Host = $null; Fault = $null; Errors = (New-Object -TypeName System.Collections.Generic.List[object]) }
    $simOutput = @()
    $simError = $null
    $simPhase = 'first'
    try {
        $simContext.Path = Get-SimStatePath
        while ($simPhase) {
            $simLock = Lock-SimState -Path $simContext.Path
            try {
                $simContext.State = Read-SimState -Path $simContext.Path
                $simContext.Host = Get-SimHost -State $simContext.State
                $simRun = 'run'
                if ($simPhase -eq 'first') {
                    Initialize-SimSessionBaseline -State $simContext.State -Path $simContext.Path
                    $simLogged = [string]$simContext.Host.name
                    if ($SimServer) { $simLogged = $SimServer }
                    Add-SimCall -State $simContext.State -Command $SimCommand -Server $simLogged -HostName $simContext.Host.name -Parameters $SimParameters
                    $simRun = Enter-SimFirstPhase -Context $simContext -Server $SimServer -NameOnly:$SimNameOnly
                } else {
                    $simContext.Server = Resolve-SimTarget -State $simContext.State -HostServer $simContext.Host -Server $SimServer -NameOnly:$SimNameOnly
                }
                $simPhase = $null
                if ($simRun -eq 'hang') {
                    $simPhase = 'after-hang'
                } else {
                    $simOutput = @(& $SimBody $simContext)
                }
            } catch {
                $simError = $_
                $simPhase = $null
            } finally {
                if ($null -ne $simContext.State) { Save-SimState -State $simContext.State -Path $simContext.Path }
                $simLock.Dispose()
            }
            if ($simPhase) { Start-Sleep -Milliseconds ([int]([double](Get-SimValue $simContext.Fault 'seconds' 3600) * 1000)) }
        }
        if ($null -eq $simError -and $null -ne $simContext.Fault -and [bool](Get-SimValue $simContext.Fault 'after' $false) -and [string](Get-SimValue $simContext.Fault 'action' 'throw') -eq 'throw') {
            $simError = New-SimFaultError -Fault $simContext.Fault -Command $SimCommand
        }
    } catch {
        $simError = $_
    }
    # Outside every try: under -ErrorAction Stop, WriteError ends the command here.
    $simOutput
    foreach ($simDeferred in $simContext.Errors) { Write-SimCommandError -Cmdlet $SimCmdlet -Kind $SimKind -ErrorRecord $simDeferred }
    if ($null -ne $simError) { Write-SimCommandError -Cmdlet $SimCmdlet -Kind $SimKind -ErrorRecord $simError }
}

function Enter-SimFirstPhase {
    # The checks before the body runs. Returns 'run', 'hang' (sleep first,
    # unlocked, then run) or throws the command's error.
    param($Context, [string]$Server, [switch]$NameOnly)
    $state = $Context.State
    if ($Context.Kind -eq 'Exchange') {
        $ended = Get-SimSessionEndedError -State $state -Path $Context.Path -HostServer $Context.Host
        if ($null -ne $ended) { throw $ended }
    }
    $Context.Server = Resolve-SimTarget -State $state -HostServer $Context.Host -Server $Server -NameOnly:$NameOnly
    $fault = Use-SimFault -State $state -Command $Context.Command -Server $Context.Server.name
    $Context.Fault = $fault
    if ($null -eq $fault) { return 'run' }
    $action = [string](Get-SimValue $fault 'action' 'throw')
    switch ($action) {
        'hang' { return 'hang' }
        'throw' {
            if (-not [bool](Get-SimValue $fault 'after' $false)) { throw (New-SimFaultError -Fault $fault -Command $Context.Command) }
            return 'run'
        }
        'exit' {
            if ($script:NativeCommands -contains $Context.Command) { return 'run' }
            # A crash: the state (call log, count-down) is saved first, as a real server keeps what it did.
            Save-SimState -State $state -Path $Context.Path
            [Environment]::Exit([int](Get-SimValue $fault 'code' 1))
        }
        'stuck' { return 'run' }
        default { throw ('ExchCertSimulator: unknown fault action ''' + $action + ''' for ' + $Context.Command + ' (use throw, hang, exit or stuck)') }
    }
}

function New-SimFaultError {
    param($Fault, [string]$Command)
    $terminating = [bool](Get-SimValue $Fault 'terminating' $true)
    return (New-SimError -Message (Get-SimFaultMessage -Fault $Fault -Command $Command) -ErrorId 'InjectedFault' -Terminating:$terminating)
}

#endregion
