# ExchCertSimulator: the state file (where it is, its lock, reading and saving
# it, its schema) and the small helpers every other file uses. Dot-sourced
# first by ExchCertSimulator.psm1.

$script:StateVersion = 2

# Not a secret: it only keeps the stored private keys in real PKCS#12 form, so
# Export-ExchangeCertificate can re-encrypt them with the caller's password.
$script:KeyPassword = 'exch-cert-simulator-internal-key-protection'

# The order Exchange prints AllowedServices in ('IMAP, POP, IIS, SMTP').
$script:ServiceOrder = @('IMAP', 'POP', 'UM', 'IIS', 'SMTP', 'Federation', 'UMCallRouter')

$script:DefaultSiteName = 'Default Web Site'

# PowerShell 7.5+ turns ISO 8601 strings into DateTime unless told not to.
$script:JsonKeepsDates = (Get-Command -Name ConvertFrom-Json).Parameters.ContainsKey('DateKind')

# How long a command waits for another process to release the state file.
$script:DefaultLockTimeoutSeconds = 30

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

function Test-SimName {
    # Exchange and Windows names compare case-insensitively.
    param([string]$Left, [string]$Right)
    return [string]::Equals($Left, $Right, [System.StringComparison]::OrdinalIgnoreCase)
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

function Set-SimDefaultDisplay {
    # What Format-Table shows by default, like the real type's view.
    param($Object, [string[]]$Property)
    # Types known to this session (ServiceController...) bring their own view.
    if ($null -ne $Object.PSObject.Members['PSStandardMembers']) { return }
    $set = New-Object -TypeName System.Management.Automation.PSPropertySet -ArgumentList @('DefaultDisplayPropertySet', $Property)
    $members = [System.Management.Automation.PSMemberInfo[]]@($set)
    Add-Member -InputObject $Object -MemberType MemberSet -Name PSStandardMembers -Value $members -Force
}

function New-SimView {
    # A result shaped like an object deserialized from remote PowerShell: a
    # property bag with the type name 'Deserialized.<type>' and no methods.
    param([Parameter(Mandatory = $true)][string]$TypeName, [Parameter(Mandatory = $true)][System.Collections.IDictionary]$Property, [string[]]$Display)
    $view = New-Object -TypeName System.Management.Automation.PSObject
    foreach ($key in $Property.Keys) {
        $view.PSObject.Properties.Add((New-Object -TypeName System.Management.Automation.PSNoteProperty -ArgumentList @([string]$key, $Property[$key])))
    }
    $view.PSObject.TypeNames.Clear()
    foreach ($name in @(('Deserialized.' + $TypeName), 'Deserialized.System.Object')) { $view.PSObject.TypeNames.Add($name) }
    if ($Display) { Set-SimDefaultDisplay -Object $view -Property $Display }
    return $view
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

#region The state file and its lock

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

function Get-SimLockTimeout {
    $text = [Environment]::GetEnvironmentVariable('EXCH_CERT_SIMULATOR_LOCK_TIMEOUT')
    $seconds = 0.0
    if ($text -and [double]::TryParse($text, [System.Globalization.NumberStyles]::Float, [System.Globalization.CultureInfo]::InvariantCulture, [ref]$seconds) -and $seconds -gt 0) {
        return $seconds
    }
    return [double]$script:DefaultLockTimeoutSeconds
}

function Lock-SimState {
    # An exclusive lock on the state: the file STATE.lock opened with FileShare
    # None (on Linux and macOS .NET takes an flock on it), which every other
    # process and every other open in this process is refused until Dispose.
    # Held only for one read-modify-write, never across a hang or a poll.
    param([Parameter(Mandatory = $true)][string]$Path)
    $lockPath = $Path + '.lock'
    $timeout = Get-SimLockTimeout
    $deadline = [System.Diagnostics.Stopwatch]::StartNew()
    $random = New-Object -TypeName System.Random
    while ($true) {
        try {
            return [System.IO.File]::Open($lockPath, [System.IO.FileMode]::OpenOrCreate, [System.IO.FileAccess]::ReadWrite, [System.IO.FileShare]::None)
        } catch [System.IO.IOException] {
            if ($deadline.Elapsed.TotalSeconds -ge $timeout) {
                throw ('ExchCertSimulator: the state file ' + $Path + ' stayed locked by another simulator command for ' + $timeout + ' s (lock file ' + $lockPath + '). A simulator command in another process may be stuck: end it, or raise EXCH_CERT_SIMULATOR_LOCK_TIMEOUT (seconds).')
            }
            Start-Sleep -Milliseconds (10 + $random.Next(30))
        }
    }
}

# The state as this process last read or saved it, and the file's stamp then. Parsing the state
# costs most of a command's time (ConvertFrom-Json builds every object); every command saves what
# it read, under the lock, so while the file keeps that stamp the object is what the file holds.
$script:StateCache = $null

function Get-SimFileStamp {
    # When the file was last written, and its length: a write by anyone else changes them.
    param([string]$Path)
    $info = New-Object -TypeName System.IO.FileInfo -ArgumentList @($Path)
    return ([string]$info.LastWriteTimeUtc.Ticks + '|' + [string]$info.Length)
}

function Read-SimState {
    # Reads and checks the state file. Callers hold the lock (Use-SimState).
    param([Parameter(Mandatory = $true)][string]$Path)
    $stamp = Get-SimFileStamp -Path $Path
    $cached = $script:StateCache
    if ($null -ne $cached -and $cached.Path -eq $Path -and $cached.Stamp -eq $stamp) { return $cached.State }
    $script:StateCache = $null
    $text = [System.IO.File]::ReadAllText($Path)
    $convert = @{ InputObject = $text; ErrorAction = 'Stop' }
    if ($script:JsonKeepsDates) { $convert.DateKind = 'String' }
    $state = ConvertFrom-Json @convert
    Assert-SimSchema -State $state -Path $Path
    # Read only if nothing wrote it meanwhile (callers hold the lock; a test may edit it without).
    if ((Get-SimFileStamp -Path $Path) -eq $stamp) { $script:StateCache = @{ Path = $Path; Stamp = $stamp; State = $state } }
    return $state
}

function Assert-SimSchema {
    # What every command relies on; anything else is read with defaults.
    param($State, [string]$Path)
    $version = [int](Get-SimValue $State 'version' 0)
    if ($version -ne $script:StateVersion) {
        throw ('ExchCertSimulator: ' + $Path + ' is a version ' + $version + ' simulator state file; this simulator reads version ' + $script:StateVersion + '. Create a new one with New-ExchCertSimulatorState -Path FILE -Force.')
    }
    foreach ($field in @('id', 'organization', 'servers')) {
        if ($null -eq (Get-SimValue $State $field $null)) { throw ('ExchCertSimulator: ' + $Path + ' has no "' + $field + '" (not a simulator state file?).') }
    }
    if (@($State.servers).Count -eq 0) { throw ('ExchCertSimulator: ' + $Path + ' has no servers.') }
}

function Save-SimState {
    # Write a temporary file next to the state, flush it, then rename it over the
    # state: readers see the old or the new file, never a half-written one.
    param([Parameter(Mandatory = $true)]$State, [Parameter(Mandatory = $true)][string]$Path)
    $script:StateCache = $null
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
        $script:StateCache = @{ Path = $Path; Stamp = (Get-SimFileStamp -Path $Path); State = $State }
    } catch {
        if ([System.IO.File]::Exists($temp)) { [System.IO.File]::Delete($temp) }
        throw
    }
}

function Use-SimState {
    # One locked read-modify-write: lock, read, run Body with the state, save
    # unless -ReadOnly, unlock. Returns what Body returns.
    param([Parameter(Mandatory = $true)][string]$Path, [Parameter(Mandatory = $true)][scriptblock]$Body, [switch]$ReadOnly)
    $lock = Lock-SimState -Path $Path
    try {
        $state = Read-SimState -Path $Path
        $saved = $false
        try {
            $result = & $Body $state
            if (-not $ReadOnly) { Save-SimState -State $state -Path $Path; $saved = $true }
        } finally {
            # The object may differ from the file unless it was just saved (a read-only body is
            # trusted with the file, not with the object): read the file again next time.
            if (-not $saved) { $script:StateCache = $null }
        }
        return $result
    } finally {
        $lock.Dispose()
    }
}

#endregion

#region Servers of the organisation

function Find-SimServer {
    # A server by name (or by FQDN with -AllowFqdn, as ServerIdParameter takes it).
    param($State, [string]$Name, [switch]$AllowFqdn)
    foreach ($server in @($State.servers)) {
        if (Test-SimName $server.name $Name) { return $server }
        if ($AllowFqdn -and (Test-SimName $server.fqdn $Name)) { return $server }
    }
    return $null
}

function Test-SimEdge {
    param($Server)
    return ([string]$Server.serverRole -eq 'Edge')
}

function Get-SimMailboxServers {
    param($State)
    return @($State.servers | Where-Object { -not (Test-SimEdge $_) })
}

function Get-SimHost {
    # The server this process is "on": $env:EXCH_CERT_SIMULATOR_HOST, default the first Mailbox server.
    param($State)
    $name = [Environment]::GetEnvironmentVariable('EXCH_CERT_SIMULATOR_HOST')
    if ([string]::IsNullOrEmpty($name)) {
        $mailbox = @(Get-SimMailboxServers -State $State)
        if ($mailbox.Count -gt 0) { return $mailbox[0] }
        return @($State.servers)[0]
    }
    $server = Find-SimServer -State $State -Name $name
    if ($null -eq $server) {
        throw ('ExchCertSimulator: EXCH_CERT_SIMULATOR_HOST is ''' + $name + ''', which is not a server of the simulated organisation (' + (@($State.servers | ForEach-Object { $_.name }) -join ', ') + ').')
    }
    return $server
}

function New-SimNotFoundError {
    # Exchange's words for an identity that names nothing.
    param($State, [string]$Identity)
    $domain = [string]$State.organization.domain
    return (New-SimError -Message ('The operation couldn''t be performed because object ''' + $Identity + ''' couldn''t be found on ''DC01.' + $domain + '''.') -ErrorId 'ManagementObjectNotFoundException' -Category ObjectNotFound -Target $Identity)
}

function Split-SimIdentity {
    # 'SERVER\rest' -> @('SERVER', 'rest'); 'rest' -> @('', 'rest').
    param([string]$Identity)
    $index = $Identity.IndexOf('\')
    if ($index -lt 0) { return @('', $Identity) }
    return @($Identity.Substring(0, $index), $Identity.Substring($index + 1))
}

#endregion
