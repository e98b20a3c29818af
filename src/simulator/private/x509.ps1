# ExchCertSimulator: real X.509 certificates (generated with .NET
# CertificateRequest, stored as PKCS#12, with the chain a PFX brought), the
# state's certificate records, and the ExchangeCertificate objects
# Get-ExchangeCertificate returns.

# Issuing CAs made during this session, by distinguished name (key generation is the slow part).
$script:Issuers = @{}

function Get-SimIssuer {
    # A CA certificate with its key, made once per session for each issuer name.
    param([string]$Name)
    if (-not $script:Issuers.ContainsKey($Name)) {
        $now = Get-SimNow
        $script:Issuers[$Name] = New-SimX509Certificate -Subject $Name -NotBefore $now.AddYears(-10) -NotAfter $now.AddYears(10) -CertificateAuthority
    }
    return $script:Issuers[$Name]
}

function New-SimX509Certificate {
    # A real RSA certificate with its private key: self-signed, or issued by a
    # generated CA named -Issuer (so Issuer and IsSelfSigned look like a public certificate).
    param(
        [Parameter(Mandatory = $true)][string]$Subject,
        [string[]]$DnsName = @(),
        [Parameter(Mandatory = $true)][datetime]$NotBefore,
        [Parameter(Mandatory = $true)][datetime]$NotAfter,
        [int]$KeySize = 2048,
        [string]$Issuer,
        [switch]$CertificateAuthority
    )
    $x509 = 'System.Security.Cryptography.X509Certificates'
    $rsa = [System.Security.Cryptography.RSA]::Create($KeySize)
    $request = New-Object -TypeName "$x509.CertificateRequest" -ArgumentList @($Subject, $rsa, [System.Security.Cryptography.HashAlgorithmName]::SHA256, [System.Security.Cryptography.RSASignaturePadding]::Pkcs1)
    $extensions = $request.CertificateExtensions
    $extensions.Add((New-Object -TypeName "$x509.X509BasicConstraintsExtension" -ArgumentList @([bool]$CertificateAuthority, $false, 0, $true)))
    if ($CertificateAuthority) {
        $usage = [System.Security.Cryptography.X509Certificates.X509KeyUsageFlags]'KeyCertSign, CrlSign, DigitalSignature'
        $extensions.Add((New-Object -TypeName "$x509.X509KeyUsageExtension" -ArgumentList @($usage, $true)))
    } else {
        $usage = [System.Security.Cryptography.X509Certificates.X509KeyUsageFlags]'DigitalSignature, KeyEncipherment'
        $extensions.Add((New-Object -TypeName "$x509.X509KeyUsageExtension" -ArgumentList @($usage, $true)))
        $purposes = New-Object -TypeName System.Security.Cryptography.OidCollection
        $null = $purposes.Add((New-Object -TypeName System.Security.Cryptography.Oid -ArgumentList @('1.3.6.1.5.5.7.3.1')))
        $null = $purposes.Add((New-Object -TypeName System.Security.Cryptography.Oid -ArgumentList @('1.3.6.1.5.5.7.3.2')))
        $extensions.Add((New-Object -TypeName "$x509.X509EnhancedKeyUsageExtension" -ArgumentList @($purposes, $false)))
    }
    if (@($DnsName).Count -gt 0) {
        $names = New-Object -TypeName "$x509.SubjectAlternativeNameBuilder"
        foreach ($name in $DnsName) { $names.AddDnsName($name) }
        $extensions.Add($names.Build($false))
    }
    $extensions.Add((New-Object -TypeName "$x509.X509SubjectKeyIdentifierExtension" -ArgumentList @($request.PublicKey, $false)))

    $from = [System.DateTimeOffset]$NotBefore.ToUniversalTime()
    $until = [System.DateTimeOffset]$NotAfter.ToUniversalTime()
    if (-not $Issuer) { return $request.CreateSelfSigned($from, $until) }

    $ca = Get-SimIssuer -Name $Issuer
    $serial = New-Object -TypeName byte[] -ArgumentList 16
    [System.Security.Cryptography.RandomNumberGenerator]::Create().GetBytes($serial)
    $serial[0] = $serial[0] -band 0x7F
    $issued = $request.Create($ca, $from, $until, $serial)
    return [System.Security.Cryptography.X509Certificates.RSACertificateExtensions]::CopyWithPrivateKey($issued, $rsa)
}

function Get-SimDnsName {
    # The certificate's DNS names (subject alternative names), else its CN when that is a host name.
    param([System.Security.Cryptography.X509Certificates.X509Certificate2]$Certificate)
    $names = New-Object -TypeName System.Collections.Generic.List[string]
    foreach ($extension in $Certificate.Extensions) {
        if ($extension.Oid.Value -ne '2.5.29.17') { continue }
        # Windows formats 'DNS Name=a, DNS Name=b'; OpenSSL 'DNS:a, DNS:b'.
        foreach ($match in [regex]::Matches($extension.Format($false), '(?:DNS Name=|DNS:)\s*([^,\s]+)')) {
            if (-not $names.Contains($match.Groups[1].Value)) { $names.Add($match.Groups[1].Value) }
        }
    }
    if ($names.Count -eq 0) {
        $cn = $Certificate.GetNameInfo([System.Security.Cryptography.X509Certificates.X509NameType]::SimpleName, $false)
        if ($cn -match '^[A-Za-z0-9*][A-Za-z0-9.*-]*$') { $names.Add($cn) }
    }
    return $names.ToArray()
}

function Test-SimWildcardSubject {
    param([string]$Subject)
    return ($Subject -match '(^|,\s*)CN=\*\.')
}

function Test-SimNameCovered {
    # Does a certificate name cover a host name? A wildcard covers exactly one
    # leftmost label (RFC 6125): *.contoso.com covers mail.contoso.com only.
    param([string]$Pattern, [string]$Name)
    if (Test-SimName $Pattern $Name) { return $true }
    if (-not $Pattern.StartsWith('*.')) { return $false }
    $dot = $Name.IndexOf('.')
    return ($dot -gt 0 -and (Test-SimName $Pattern.Substring(2) $Name.Substring($dot + 1)))
}

function Get-SimTlsCertificateName {
    # How connectors name a certificate (TlsCertificateName, an SmtpX509Identifier).
    param($Record)
    return ('<I>' + $Record.issuer + '<S>' + $Record.subject)
}

function ConvertTo-SimCertificateRecord {
    # The state's record of a certificate; the key travels in 'pfx' under the internal password.
    param(
        [Parameter(Mandatory = $true)][System.Security.Cryptography.X509Certificates.X509Certificate2]$Certificate,
        [string]$FriendlyName = '',
        [bool]$PrivateKeyExportable = $false,
        [string[]]$Services = @(),
        [string]$RootCAType,
        [string[]]$Chain = @()
    )
    $selfSigned = ($Certificate.Subject -eq $Certificate.Issuer)
    if (-not $RootCAType) { if ($selfSigned) { $RootCAType = 'Registry' } else { $RootCAType = 'ThirdParty' } }
    $pfx = $Certificate.Export([System.Security.Cryptography.X509Certificates.X509ContentType]::Pkcs12, [string]$script:KeyPassword)
    return [pscustomobject][ordered]@{
        thumbprint           = $Certificate.Thumbprint.ToUpperInvariant()
        subject              = $Certificate.Subject
        issuer               = $Certificate.Issuer
        certificateDomains   = @(Get-SimDnsName -Certificate $Certificate)
        services             = @($Services | Where-Object { $_ -and $_ -ne 'IIS' -and $_ -ne 'None' })
        notBefore            = Format-SimDate -Value $Certificate.NotBefore
        notAfter             = Format-SimDate -Value $Certificate.NotAfter
        serialNumber         = $Certificate.SerialNumber
        publicKeySize        = 8 * [System.Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPublicKey($Certificate).ExportParameters($false).Modulus.Length
        hasPrivateKey        = $Certificate.HasPrivateKey
        privateKeyExportable = $PrivateKeyExportable
        isSelfSigned         = $selfSigned
        friendlyName         = $FriendlyName
        rootCAType           = $RootCAType
        pfx                  = [Convert]::ToBase64String($pfx)
        chain                = @($Chain)
    }
}

function Get-SimPfxChain {
    # The other certificates of a PFX (its chain), base64 DER: Windows puts them into its CA stores
    # on import, and then sends them with the certificate in TLS handshakes.
    param([byte[]]$FileData, [System.Security.SecureString]$Password, [string]$Thumbprint)
    $collection = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2Collection
    $collection.Import($FileData, (ConvertTo-SimPlainText -SecureString $Password), [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]::DefaultKeySet)
    try {
        foreach ($certificate in $collection) {
            if ($certificate.Thumbprint.ToUpperInvariant() -ne $Thumbprint) { [Convert]::ToBase64String($certificate.RawData) }
        }
    } finally {
        foreach ($certificate in $collection) { $certificate.Reset() }
    }
}

function Copy-SimCertificateRecord {
    # The same certificate in another server's store (its own services list).
    param($Record, [string[]]$Services, [bool]$PrivateKeyExportable)
    $copy = $Record.PSObject.Copy()
    $copy.services = @($Services | Where-Object { $_ -and $_ -ne 'IIS' -and $_ -ne 'None' })
    $copy.privateKeyExportable = $PrivateKeyExportable
    return $copy
}

function Read-SimX509 {
    # The stored certificate as an X509Certificate2 with its (exportable) key.
    param([Parameter(Mandatory = $true)]$Record)
    $bytes = [Convert]::FromBase64String([string]$Record.pfx)
    $flags = [System.Security.Cryptography.X509Certificates.X509KeyStorageFlags]::Exportable
    return [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($bytes, [string]$script:KeyPassword, $flags)
}

function Get-SimCertificateRawData {
    # The certificate alone (DER), as a subscription file carries it.
    param($Record)
    $x509 = Read-SimX509 -Record $Record
    try { return $x509.RawData } finally { $x509.Reset() }
}

function Find-SimCertificate {
    param($Server, [string]$Thumbprint)
    $wanted = ConvertTo-SimThumbprint -Thumbprint $Thumbprint
    foreach ($record in @($Server.certificates)) {
        if ($record.thumbprint -eq $wanted) { return $record }
    }
    return $null
}

function Get-SimCertificate {
    # The certificate, or the error Exchange gives for an unknown thumbprint.
    param($Server, [string]$Thumbprint)
    $record = Find-SimCertificate -Server $Server -Thumbprint $Thumbprint
    if ($null -eq $record) {
        throw (New-SimError -Message ('The certificate with thumbprint ' + (ConvertTo-SimThumbprint -Thumbprint $Thumbprint) + ' was not found on server ''' + $Server.name + '''.') -ErrorId 'CertificateNotFound' -Category ObjectNotFound -Target $Thumbprint)
    }
    return $record
}

function Get-SimCertificateStatus {
    param($Record)
    $now = Get-SimNow
    if ((ConvertTo-SimDate $Record.notAfter) -lt $now -or (ConvertTo-SimDate $Record.notBefore) -gt $now) { return 'DateInvalid' }
    return 'Valid'
}

function Get-SimServiceText {
    # Exchange's Services text: stored services, plus IIS while an https binding uses the certificate.
    param($Server, $Record)
    $services = @($Record.services)
    if (@(Get-SimBindingUse -Server $Server -Thumbprint $Record.thumbprint).Count -gt 0) { $services += 'IIS' }
    $ordered = @($script:ServiceOrder | Where-Object { $services -contains $_ })
    if ($ordered.Count -eq 0) { return 'None' }
    return ($ordered -join ', ')
}

function ConvertTo-SimExchangeCertificate {
    # What Get-ExchangeCertificate returns, shaped like the object deserialized
    # from remote PowerShell (Services is a string there).
    param($Server, $Record)
    return (New-SimView -TypeName 'Microsoft.Exchange.Management.SystemConfigurationTasks.ExchangeCertificate' -Display @('Thumbprint', 'Services', 'Subject') -Property ([ordered]@{
                Identity             = $Server.name + '\' + $Record.thumbprint
                Thumbprint           = [string]$Record.thumbprint
                Subject              = [string]$Record.subject
                Issuer               = [string]$Record.issuer
                CertificateDomains   = [string[]]@($Record.certificateDomains)
                Services             = Get-SimServiceText -Server $Server -Record $Record
                NotBefore            = (ConvertTo-SimDate $Record.notBefore).ToLocalTime()
                NotAfter             = (ConvertTo-SimDate $Record.notAfter).ToLocalTime()
                HasPrivateKey        = [bool]$Record.hasPrivateKey
                PrivateKeyExportable = [bool]$Record.privateKeyExportable
                IsSelfSigned         = [bool]$Record.isSelfSigned
                FriendlyName         = [string]$Record.friendlyName
                RootCAType           = [string]$Record.rootCAType
                PublicKeySize        = [int]$Record.publicKeySize
                SerialNumber         = [string]$Record.serialNumber
                Status               = Get-SimCertificateStatus -Record $Record
                ServerName           = [string]$Server.name
            }))
}

function Resolve-SimServiceList {
    # -Services accepts 'IIS,SMTP' as well as arrays, like the AllowedServices flags type.
    param($Services)
    $allowed = @('None') + $script:ServiceOrder
    $result = New-Object -TypeName System.Collections.Generic.List[string]
    foreach ($item in @($Services)) {
        foreach ($part in ([string]$item -split ',')) {
            $name = $part.Trim()
            if (-not $name) { continue }
            $canonical = @($allowed | Where-Object { Test-SimName $_ $name })
            if ($canonical.Count -eq 0) {
                throw (New-SimError -Message ('Cannot process argument transformation on parameter ''Services''. Cannot convert value "' + $name + '" to type "Microsoft.Exchange.Data.AllowedServices". Error: "Unable to match the identifier name ' + $name + ' to a valid enumerator name. Specify one of the following enumerator names and try again: ' + ($allowed -join ', ') + '"') -ErrorId 'ParameterArgumentTransformationError' -Category InvalidData -Target $name)
            }
            if ($canonical[0] -ne 'None' -and -not $result.Contains($canonical[0])) { $result.Add($canonical[0]) }
        }
    }
    return , $result.ToArray()
}
