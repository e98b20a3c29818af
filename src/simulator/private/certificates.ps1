# ExchCertSimulator: Get-, Import-, Enable-, Export-, Remove- and
# New-ExchangeCertificate. Parameters and parameter sets are Exchange Server
# 2019's (test/fixtures/exchange-cmdlets.json, from Microsoft's reference);
# those the simulator does not act on (DomainController, NetworkServiceAllowed,
# Instance, SubjectKeyIdentifier) are accepted and ignored.

function Resolve-SimCertificateIdentity {
    # Identity is 'SERVER\THUMBPRINT' or a thumbprint; the Thumbprint set names the server with -Server.
    param([string]$Identity, [string]$Thumbprint, [string]$Server)
    if ($Identity) {
        $parts = Split-SimIdentity -Identity $Identity
        return @{ Server = $parts[0]; Thumbprint = $parts[1] }
    }
    return @{ Server = $Server; Thumbprint = $Thumbprint }
}

function Get-ExchangeCertificate {
    [CmdletBinding(DefaultParameterSetName = 'Thumbprint', PositionalBinding = $false)]
    param(
        [Parameter(ParameterSetName = 'Identity', Position = 0)][string]$Identity,
        [Parameter(ParameterSetName = 'Instance')][object]$Instance,
        [Parameter(ParameterSetName = 'Thumbprint', Position = 0)][string]$Thumbprint,
        [Parameter(ParameterSetName = 'Instance')][Parameter(ParameterSetName = 'Thumbprint')][string]$Server,
        [object]$DomainController,
        [object[]]$DomainName
    )
    process {
        $id = Resolve-SimCertificateIdentity -Identity $Identity -Thumbprint $Thumbprint -Server $Server
        if ($null -ne $Instance) { $id.Thumbprint = [string]$Instance.Thumbprint }
        Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimServer $id.Server -SimBody {
            param($sim)
            # An empty thumbprint is no filter: Exchange lists every certificate.
            $records = @($sim.Server.certificates)
            if ($id.Thumbprint) { $records = @(Get-SimCertificate -Server $sim.Server -Thumbprint $id.Thumbprint) }
            if ($DomainName) {
                $records = @($records | Where-Object {
                        $domains = @($_.certificateDomains)
                        @($DomainName | Where-Object { $wanted = [string]$_; @($domains | Where-Object { Test-SimNameCovered -Pattern $_ -Name $wanted }).Count -gt 0 }).Count -gt 0
                    })
            }
            foreach ($record in $records) { ConvertTo-SimExchangeCertificate -Server $sim.Server -Record $record }
        }
    }
}

function Import-ExchangeCertificate {
    # Exchange 2019 has no -FileName (removed by the 2022 H1 CUs, P1), and no -Services: import, then enable.
    [CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'FileData', PositionalBinding = $false)]
    param(
        [Parameter(ParameterSetName = 'FileData', Mandatory = $true)][byte[]]$FileData,
        [Parameter(ParameterSetName = 'FileName', Mandatory = $true)][string[]]$Instance,
        [string]$FriendlyName,
        [System.Security.SecureString]$Password,
        [bool]$PrivateKeyExportable = $false,
        [string]$Server,
        [object]$DomainController
    )
    Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimServer $Server -SimBody {
        param($sim)
        if ($null -eq $FileData) { throw (New-SimError -Message 'ExchCertSimulator: only -FileData imports are simulated (-Instance is a deprecated parameter).' -ErrorId 'NotSimulated' -Category NotImplemented) }
        if ($FriendlyName -and $FriendlyName.Length -ge 64) {
            throw (New-SimError -Message 'The FriendlyName must be less than 64 characters long.' -ErrorId 'FriendlyNameTooLong' -Category InvalidArgument -Target $FriendlyName)
        }
        $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]::Exportable
        try {
            if ($null -ne $Password) {
                $x509 = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($FileData, $Password, $flags)
            } else {
                $x509 = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($FileData, [string]'', $flags)
            }
        } catch {
            $inner = $_.Exception
            while ($null -ne $inner.InnerException) { $inner = $inner.InnerException }
            $message = 'Cannot import certificate. The password is incorrect, or the data is not a valid PFX (PKCS #12) file: ' + $inner.Message
            throw (New-SimError -Message $message -ErrorId 'CannotImportCertificate' -Category InvalidData -Exception (New-Object -TypeName System.Security.Cryptography.CryptographicException -ArgumentList @($message)))
        }
        try {
            $thumbprint = $x509.Thumbprint.ToUpperInvariant()
            if ($null -ne (Find-SimCertificate -Server $sim.Server -Thumbprint $thumbprint)) {
                throw (New-SimError -Message ('Cannot import certificate. A certificate with the thumbprint ' + $thumbprint + ' already exists.') -ErrorId 'CertificateAlreadyExists' -Category ResourceExists -Target $thumbprint)
            }
            if (-not $sim.Cmdlet.ShouldProcess($thumbprint, 'Import certificate')) { return }
            $chain = @(Get-SimPfxChain -FileData $FileData -Password $Password -Thumbprint $thumbprint)
            $record = ConvertTo-SimCertificateRecord -Certificate $x509 -FriendlyName ([string]$FriendlyName) -PrivateKeyExportable $PrivateKeyExportable -Chain $chain
        } finally {
            $x509.Reset()
        }
        $sim.Server.certificates = @(@($sim.Server.certificates) + $record)
        ConvertTo-SimExchangeCertificate -Server $sim.Server -Record $record
    }
}

function Enable-ExchangeCertificate {
    [CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Thumbprint', PositionalBinding = $false)]
    param(
        [Parameter(ParameterSetName = 'Thumbprint', Mandatory = $true, Position = 0)][string]$Thumbprint,
        [Parameter(ParameterSetName = 'Identity', Position = 0, ValueFromPipelineByPropertyName = $true)][string]$Identity,
        [Parameter(Mandatory = $true)][object]$Services,
        [switch]$DoNotRequireSsl,
        [switch]$Force,
        [switch]$NetworkServiceAllowed,
        [Parameter(ParameterSetName = 'Thumbprint')][string]$Server,
        [object]$DomainController
    )
    process {
        $id = Resolve-SimCertificateIdentity -Identity $Identity -Thumbprint $Thumbprint -Server $Server
        Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimServer $id.Server -SimBody {
            param($sim)
            $requested = Resolve-SimServiceList -Services $Services
            $record = Get-SimCertificate -Server $sim.Server -Thumbprint $id.Thumbprint
            if (-not $sim.Cmdlet.ShouldProcess($record.thumbprint, ('Enable certificate for ' + ($requested -join ', ')))) { return }
            Enable-SimCertificateService -Context $sim -Record $record -Services $requested -Force ([bool]$Force) -DoNotRequireSsl ([bool]$DoNotRequireSsl)
        }
    }
}

function Enable-SimCertificateService {
    # Enable-ExchangeCertificate's effect, shared with New-ExchangeCertificate.
    # Services are additive. Everything is checked first; then IIS, POP and
    # IMAP are applied, and SMTP last, because its prompt may fail.
    param($Context, $Record, [string[]]$Services, [bool]$Force, [bool]$DoNotRequireSsl)
    $server = $Context.Server
    $thumbprint = $Record.thumbprint
    if (-not $Record.hasPrivateKey) {
        throw (New-SimError -Message ('The certificate with thumbprint ' + $thumbprint + ' doesn''t have a private key. Exchange can only enable certificates that have one.') -ErrorId 'NoPrivateKey' -Target $thumbprint)
    }
    if ((Get-SimCertificateStatus -Record $Record) -ne 'Valid') {
        throw (New-SimError -Message ('The certificate with thumbprint ' + $thumbprint + ' is not valid (status DateInvalid: expired or not valid yet) and can''t be enabled for services.') -ErrorId 'CertificateNotValid' -Target $thumbprint)
    }
    if (Test-SimEdge $server) {
        $notOnEdge = @($Services | Where-Object { @('IIS', 'POP', 'IMAP', 'UM', 'UMCallRouter') -contains $_ })
        if ($notOnEdge.Count -gt 0) {
            throw (New-SimError -Message ('The Edge Transport server ' + $server.name + ' has no ' + ($notOnEdge -join ', ') + ' service; an Edge certificate can be enabled for SMTP only.') -ErrorId 'ServiceNotOnEdge' -Category InvalidArgument -Target $thumbprint)
        }
    }
    $apply = New-Object -TypeName System.Collections.Generic.List[string]
    foreach ($service in $Services) {
        if (@('POP', 'IMAP') -contains $service -and (Test-SimWildcardSubject -Subject $Record.subject)) {
            # Exchange's words, as the seed's notes show them.
            $Context.Cmdlet.WriteWarning('This certificate with thumbprint ' + $thumbprint + ' and subject ''' + $Record.subject + ''' cannot used for ' + $service + ' SSL/TLS connections because the subject is not a Fully Qualified Domain Name (FQDN). Use command Set-' + $service + 'Settings to set X509CertificateName to the FQDN of the service.')
            continue
        }
        $apply.Add($service)
    }

    if ($apply.Contains('IIS')) {
        Set-SimBindingCertificate -Server $server -SiteName $script:DefaultSiteName -BindingInformation '*:443:' -Thumbprint $thumbprint
        # -DoNotRequireSsl leaves the setting as it is; without it Exchange turns Require SSL on.
        if (-not $DoNotRequireSsl) { (Get-SimSite -Server $server -Name $script:DefaultSiteName).requireSsl = $true }
    }
    foreach ($key in @('POP', 'IMAP')) {
        if ($apply.Contains($key)) { Request-SimProtocolRestart -Server $server -Key $key.ToLowerInvariant() }
    }
    $stored = @($Record.services)
    foreach ($service in $apply) {
        if ($service -ne 'IIS' -and $service -ne 'SMTP' -and $stored -notcontains $service) { $stored += $service }
    }
    $Record.services = @($stored)
    if (-not $apply.Contains('SMTP')) { return }

    $current = ConvertTo-SimThumbprint -Thumbprint ([string](Get-SimValue $server.transport 'internalTransportCertificateThumbprint' ''))
    $makeDefault = $true
    if ($current -and $current -ne $thumbprint -and -not $Force) {
        $makeDefault = Confirm-SimSmtpOverwrite -Context $Context -Current $current -Record $Record
    }
    if ($makeDefault) { Set-SimValue $server.transport 'internalTransportCertificateThumbprint' $thumbprint }
    if ($Record.services -notcontains 'SMTP') { $Record.services = @(@($Record.services) + 'SMTP') }
}

function Confirm-SimSmtpOverwrite {
    # The prompt Exchange shows without -Force. Under -NonInteractive it cannot
    # be answered and the command fails (what it applied before stays); in an
    # interactive rehearsal the answer decides whether the certificate becomes
    # the default SMTP one. The prompt holds the state lock while it waits.
    param($Context, [string]$Current, $Record)
    $currentRecord = Find-SimCertificate -Server $Context.Server -Thumbprint $Current
    $currentExpiry = ''
    if ($null -ne $currentRecord) { $currentExpiry = ' (expires ' + (ConvertTo-SimDate $currentRecord.notAfter).ToLocalTime().ToString() + ')' }
    $query = 'Overwrite the existing default SMTP certificate?' + [Environment]::NewLine + [Environment]::NewLine +
        'Current certificate: ''' + $Current + '''' + $currentExpiry + [Environment]::NewLine +
        'Replace it with certificate: ''' + $Record.thumbprint + ''' (expires ' + (ConvertTo-SimDate $Record.notAfter).ToLocalTime().ToString() + ')'
    try {
        return $Context.Cmdlet.ShouldContinue($query, 'Confirm')
    } catch {
        $reason = $_.Exception.Message
        if ($null -ne $_.Exception.InnerException) { $reason = $_.Exception.InnerException.Message }
        throw (New-SimError -Message ($query + [Environment]::NewLine + 'Confirmation required, but it cannot be given: ' + $reason + ' Use -Force to replace the default SMTP certificate without a prompt.') -ErrorId 'ConfirmationRequired' -Target $Record.thumbprint)
    }
}

function Export-ExchangeCertificate {
    # Without -BinaryEncoded the output is the Base64 text of the file; with
    # it, an object whose FileData holds the bytes (no -FileName in 2019, P1).
    [CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Thumbprint', PositionalBinding = $false)]
    param(
        [Parameter(ParameterSetName = 'Thumbprint', Mandatory = $true, Position = 0)][string]$Thumbprint,
        [Parameter(ParameterSetName = 'Identity', Position = 0, ValueFromPipelineByPropertyName = $true)][string]$Identity,
        [Parameter(ParameterSetName = 'Thumbprint')][string]$Server,
        [switch]$BinaryEncoded,
        [System.Security.SecureString]$Password,
        [object]$DomainController
    )
    process {
        $id = Resolve-SimCertificateIdentity -Identity $Identity -Thumbprint $Thumbprint -Server $Server
        Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimServer $id.Server -SimBody {
            param($sim)
            $record = Get-SimCertificate -Server $sim.Server -Thumbprint $id.Thumbprint
            if ($null -ne $Password -and $record.hasPrivateKey -and -not $record.privateKeyExportable) {
                throw (New-SimError -Message ('The private key couldn''t be exported as PKCS-12. It either couldn''t be accessed or isn''t exportable. (certificate ' + $record.thumbprint + ' was imported or created with PrivateKeyExportable $false)') -ErrorId 'PrivateKeyNotExportable' -Target $record.thumbprint)
            }
            if (-not $sim.Cmdlet.ShouldProcess($record.thumbprint, 'Export certificate')) { return }
            $x509 = Read-SimX509 -Record $record
            try {
                if ($null -ne $Password) {
                    $bytes = $x509.Export([System.Security.Cryptography.X509Certificates.X509ContentType]::Pkcs12, $Password)
                } else {
                    # Without a password only the certificate itself leaves the server.
                    $bytes = $x509.Export([System.Security.Cryptography.X509Certificates.X509ContentType]::Cert)
                }
            } finally {
                $x509.Reset()
            }
            if ($BinaryEncoded) {
                New-SimView -TypeName 'Microsoft.Exchange.Data.BinaryFileDataObject' -Property ([ordered]@{ FileData = [byte[]]$bytes })
            } else {
                [Convert]::ToBase64String($bytes)
            }
        }
    }
}

function Remove-ExchangeCertificate {
    # Exchange refuses only the internal transport certificate; guards for
    # certificates IIS or Auth still use are exch-cert's own.
    [CmdletBinding(SupportsShouldProcess = $true, ConfirmImpact = 'High', DefaultParameterSetName = 'Thumbprint', PositionalBinding = $false)]
    param(
        [Parameter(ParameterSetName = 'Thumbprint', Mandatory = $true, Position = 0)][string]$Thumbprint,
        [Parameter(ParameterSetName = 'Identity', Position = 0, ValueFromPipelineByPropertyName = $true)][string]$Identity,
        [Parameter(ParameterSetName = 'Thumbprint')][string]$Server,
        [object]$DomainController
    )
    process {
        $id = Resolve-SimCertificateIdentity -Identity $Identity -Thumbprint $Thumbprint -Server $Server
        Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimServer $id.Server -SimBody {
            param($sim)
            $record = Get-SimCertificate -Server $sim.Server -Thumbprint $id.Thumbprint
            $thumbprint = $record.thumbprint
            if ((ConvertTo-SimThumbprint -Thumbprint ([string]$sim.Server.transport.internalTransportCertificateThumbprint)) -eq $thumbprint) {
                throw (New-SimError -Message 'The internal transport certificate cannot be removed because that would cause the Microsoft Exchange Transport service to stop. To replace the internal transport certificate, create a new certificate. The new certificate will automatically become the internal transport certificate. You can then remove the existing certificate.' -ErrorId 'CannotRemoveInternalTransportCertificate' -Target $thumbprint)
            }
            if (-not $sim.Cmdlet.ShouldProcess($thumbprint, 'Remove certificate')) { return }
            $sim.Server.certificates = @($sim.Server.certificates | Where-Object { $_.thumbprint -ne $thumbprint })
        }
    }
}

function New-ExchangeCertificate {
    # Self-signed certificates only (-GenerateRequest is not simulated).
    # Defaults as Exchange's: subject CN=<server>, names <server> and its FQDN,
    # services IMAP, POP, SMTP (SMTP on an Edge), key not exportable.
    [CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Certificate', PositionalBinding = $false)]
    param(
        [Parameter(ParameterSetName = 'Request')][switch]$BinaryEncoded,
        [Parameter(ParameterSetName = 'Request')][switch]$GenerateRequest,
        [Parameter(ParameterSetName = 'Certificate')][object]$Services,
        [object]$DomainController,
        [object[]]$DomainName,
        [switch]$Force,
        [string]$FriendlyName = 'Microsoft Exchange',
        [switch]$IncludeAcceptedDomains,
        [switch]$IncludeAutoDiscover,
        [switch]$IncludeServerFQDN,
        [switch]$IncludeServerNetBIOSName,
        [object]$Instance,
        [int]$KeySize = 2048,
        [bool]$PrivateKeyExportable = $false,
        [string]$Server,
        [string]$SubjectKeyIdentifier,
        [object]$SubjectName
    )
    Invoke-SimCommand -SimCmdlet $PSCmdlet -SimKind Exchange -SimServer $Server -SimBody {
        param($sim)
        $server = $sim.Server
        if ($sim.Cmdlet.ParameterSetName -eq 'Request') { throw (New-SimError -Message 'ExchCertSimulator: certificate requests (-GenerateRequest) are not simulated; New-ExchangeCertificate makes self-signed certificates here.' -ErrorId 'NotSimulated' -Category NotImplemented) }
        if (@(1024, 2048, 4096) -notcontains $KeySize) {
            throw (New-SimError -Message ('The KeySize value ' + $KeySize + ' isn''t valid. Valid values are 1024, 2048 and 4096.') -ErrorId 'InvalidKeySize' -Category InvalidArgument -Target $KeySize)
        }
        $defaultServices = @('IMAP', 'POP', 'SMTP')
        if (Test-SimEdge $server) { $defaultServices = @('SMTP') }
        $requested = Resolve-SimServiceList -Services $(if ($null -ne $Services) { $Services } else { $defaultServices })
        $subject = [string]$SubjectName
        if ($SubjectName -is [System.Security.Cryptography.X509Certificates.X500DistinguishedName]) { $subject = $SubjectName.Name }
        if (-not $subject) { $subject = 'CN=' + $server.name }
        $names = Get-SimNewCertificateNames -State $sim.State -Server $server -Subject $subject -DomainName $DomainName -Include @{ NetBIOS = [bool]$IncludeServerNetBIOSName; Fqdn = [bool]$IncludeServerFQDN; AutoDiscover = [bool]$IncludeAutoDiscover; Accepted = [bool]$IncludeAcceptedDomains }
        if (-not $sim.Cmdlet.ShouldProcess($subject, 'Create a self-signed certificate')) { return }
        $now = Get-SimNow
        $x509 = New-SimX509Certificate -Subject $subject -DnsName $names -NotBefore $now.AddMinutes(-5) -NotAfter $now.AddYears(5) -KeySize $KeySize
        try {
            $record = ConvertTo-SimCertificateRecord -Certificate $x509 -FriendlyName $FriendlyName -PrivateKeyExportable $PrivateKeyExportable -RootCAType 'Registry'
        } finally {
            $x509.Reset()
        }
        $server.certificates = @(@($server.certificates) + $record)
        Enable-SimCertificateService -Context $sim -Record $record -Services $requested -Force ([bool]$Force) -DoNotRequireSsl $false
        ConvertTo-SimExchangeCertificate -Server $server -Record $record
    }
}

function Get-SimNewCertificateNames {
    # The subject alternative names of a new certificate: the subject's CN
    # first (Exchange adds it to DomainName), then -DomainName and the Include* names.
    param($State, $Server, [string]$Subject, [object[]]$DomainName, [hashtable]$Include)
    $names = New-Object -TypeName System.Collections.Generic.List[string]
    $add = { param($name) if ($name -and @($names | Where-Object { Test-SimName $_ $name }).Count -eq 0) { $names.Add([string]$name) } }
    if ($Subject -match '(?:^|,\s*)CN=([^,]+)') { & $add $Matches[1].Trim() }
    foreach ($name in @($DomainName)) { & $add ([string]$name) }
    if ($Include.NetBIOS) { & $add $Server.name }
    if ($Include.Fqdn) { & $add $Server.fqdn }
    $accepted = @(Get-SimValue $State.organization 'acceptedDomains' @($State.organization.domain))
    if ($Include.AutoDiscover) { foreach ($domain in $accepted) { & $add ('autodiscover.' + $domain) } }
    if ($Include.Accepted) { foreach ($domain in $accepted) { & $add $domain } }
    if (@($DomainName | Where-Object { $_ }).Count -eq 0 -and -not ($Include.NetBIOS -or $Include.Fqdn -or $Include.AutoDiscover -or $Include.Accepted)) {
        & $add $Server.name
        & $add $Server.fqdn
    }
    return $names.ToArray()
}
