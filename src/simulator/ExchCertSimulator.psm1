<#
ExchCertSimulator: a simulated Exchange organisation for exch-cert
==================================================================

A PowerShell module that provides the Exchange, IIS and service commands an
exch-cert renewal calls, acting on a JSON state file instead of real servers.
Admins rehearse a maintenance window with it; exch-cert's tests run compiled
runbooks against it, in-process (Import-Module in the shell that runs the
script) and through real PowerShell remoting (the module imported on the
server side; Exchange cmdlets reach the client through Import-PSSession, host
commands through Invoke-Command). Written for Windows PowerShell 5.1 (no
PowerShell 7-only syntax; .NET Framework 4.7.2 APIs), tested on PowerShell 7.

Every Exchange cmdlet declares exactly the parameters and parameter sets of
Exchange Server 2019 in Microsoft's cmdlet reference (MicrosoftDocs/
office-docs-powershell; test/fixtures/exchange-cmdlets.json, checked by
test/simulator/reference.test.ts), so PowerShell itself refuses what Exchange
refuses. Parameters the simulator does not act on are accepted and ignored.

Quick start
-----------
    Import-Module ./ExchCertSimulator.psd1 -DisableNameChecking
    New-ExchCertSimulatorState -Path ./org.json -Servers EXCH01,EXCH02 -Edge EDGE01 -Layout seed
    $env:EXCH_CERT_SIMULATOR_STATE = (Resolve-Path ./org.json).Path
    $pw = Read-Host -AsSecureString 'PFX password'
    New-ExchCertSimulatorPfx -Path ./new.pfx -Password $pw -DnsName mail.contoso.com, autodiscover.contoso.com
    Get-ExchangeCertificate -Server EXCH02

Files (dot-sourced in this order)
---------------------------------
    private/state.ps1         the state file, its lock, schema, helpers, servers
    private/faults.ps1        every command's life: calls log, faults, errors, sessions
    private/x509.ps1          real certificates, records, ExchangeCertificate objects
    private/certificates.ps1  Get/Import/Enable/Export/Remove/New-ExchangeCertificate
    private/iis.ps1           Get/New-WebBinding, binding methods, Require SSL, netsh, iisreset
    private/services.ps1      Get/Start/Stop/Restart-Service, WaitForStatus
    private/transport.ps1     Get/Set-TransportService, Get/Set-PopSettings, Get/Set-ImapSettings
    private/connectors.ps1    Get/Set-SendConnector, Get/Set-ReceiveConnector, Get-Queue, Redirect-Message
    private/organization.ps1  Get-ExchangeServer, Get-AuthConfig, Test-ServiceHealth, server component states
    private/edge.ps1          New/Remove/Get-EdgeSubscription, Start/Test-EdgeSynchronization
    private/inventory.ps1     what a new organisation is made of; the layouts
    private/setup.ps1         New-ExchCertSimulatorState, New-ExchCertSimulatorPfx, Get-ExchCertSimulatorState,
                              Add-ExchCertSimulatorFault, Register-ExchCertSimulatorSession

Environment
-----------
    EXCH_CERT_SIMULATOR_STATE         the state file (required)
    EXCH_CERT_SIMULATOR_HOST          the server this process is on (host commands act there; Exchange
                                      cmdlets without -Server target it); default the first Mailbox server
    EXCH_CERT_SIMULATOR_LOCK_TIMEOUT  seconds to wait for the state lock (default 30)

State file, version 2
---------------------
Each command takes an exclusive lock (STATE.lock, opened with FileShare None;
retried every few milliseconds up to the timeout, then a clear error), reads
the file, logs the call, applies faults, acts, saves it atomically (temporary
file in the same folder, then a rename) and unlocks. The lock is never held
across a hang fault's sleep or a WaitForStatus poll (only a prompt, such as the
SMTP confirmation, waits with it held). Several processes can share a file.

    version         2
    id              a GUID, new for each file
    createdAt, layouts[]
    organization    name, domain, site (AD site name), namespace (the public FQDN), acceptedDomains[],
                    authConfig { currentCertificateThumbprint, nextCertificateThumbprint, previousCertificateThumbprint },
                    sendConnectors[] { name, addressSpaces[], sourceTransportServers[], smartHosts[],
                        dnsRoutingEnabled, fqdn, tlsCertificateName ('<I>issuer<S>subject'), requireTLS, enabled,
                        comment, edgeSync (the Edge whose subscription made it, or '') },
                    edgeSubscriptions[] { name, fqdn, site, domain, certificateThumbprint (the Edge's SMTP
                        certificate the subscription holds), createdAt, lastSyncAt }
    servers[]       name, fqdn, domain, site, serverRole ('Mailbox' or 'Edge'), edition, adminDisplayVersion,
                    certificates[] { thumbprint, subject, issuer, certificateDomains[], services[] (stored services;
                        IIS is not stored, it shows while an https binding uses the certificate), notBefore,
                        notAfter (ISO 8601 UTC), serialNumber, publicKeySize, hasPrivateKey,
                        privateKeyExportable, isSelfSigned, friendlyName, rootCAType, pfx (base64 PKCS#12 with
                        the key, under the module's internal password $script:KeyPassword), chain[] (base64 DER of
                        the other certificates the imported PFX held, its issuers, which TLS handshakes send along) },
                    transport { internalTransportCertificateThumbprint, redirectTarget (Redirect-Message) },
                    iis (null on Edge) { sites[] { name, id, requireSsl, bindings[] { protocol, bindingInformation
                        'ip:port:host', sslFlags (1 = SNI), certificateHash, certificateStoreName, appId } },
                        resets (IIS stops so far), lastResetAt, lastResetEndedSessions[] (pids) },
                    pop, imap (null on Edge) { x509CertificateName (configured), activeCertificateName and
                        activeCertificateThumbprint (what the service serves), services[] (its two services),
                        pendingRestart[] (services not started since the change), lastProblem },
                    services[] { name, displayName, status (Running/Stopped), startType },
                    roles[] { role, requiredServices[] } (Test-ServiceHealth),
                    receiveConnectors[] { name, bindings[], transportRole, fqdn (optional; none: the server's FQDN),
                        tlsCertificateName, requireTLS, enabled, comment, activeCertificateThumbprint (what STARTTLS
                        serves: picked when the connector's transport service last started; '' offers no STARTTLS) },
                    queues[] { identity 'SERVER\id', deliveryType, status, messageCount, nextHopDomain, drainStep, stuck },
                    componentStates[] { component, requesters[] { requester, state, timestamp } } (none: Active),
                    sessions[] { pid, kind ('exchange' or 'host'), startedAt, registeredAt },
                    edge (Edge only) { adamSslPort, bootstrap (the pending subscription file's account: account,
                        password, createdAt, expiresAt, certificateThumbprint), subscription { site, createdAt,
                        certificateThumbprint } },
                    clockOffsetSeconds (optional; an Edge, outside the domain: how far its clock is off, which
                        the subscription file it writes shows in EffectiveTime and its bootstrap account's expiry)
    faults[]        injected faults, see below
    calls[]         command, server (the one named, else the host), host, parameters (names and non-secret
                    values; passwords and SecureStrings '<redacted>', byte arrays '<N bytes>'), at

Layouts (New-ExchCertSimulatorState -Layout a,b; combinable; for every Mailbox server)
    seed                       POP3/IMAP4 services Automatic and Running (fresh install: Manual and Stopped)
    loopback-public            the old public certificate also on Default Web Site 127.0.0.1:443 (seed's raw notes)
    sni                        the old public certificate also on an SNI binding *:443:<fqdn> (sslFlags 1)
    public-internal-transport  the old public certificate is the internal transport certificate
    non-exportable             the old public certificate's key is not exportable
    require-ssl-off            Default Web Site Require SSL off (an HTTP-to-HTTPS redirect set-up)
    hybrid-connectors          a send connector 'Outbound to Office 365 - <guid>' and the receive connector
                               'Default Frontend <server>' with TlsCertificateName naming the old public certificate
    smtp-namespace             'Default Frontend <server>' (25) and 'Client Frontend <server>' (587) have the namespace
                               as FQDN, so STARTTLS offers the public certificate (without it: the self-signed one)

Faults
------
    { "command": "Enable-ExchangeCertificate", "action": "throw", "message": "...", "times": 1, "server": "EXCH02" }
        The command fails before it changes anything ("after": true: after the change was made and
        saved). Exchange cmdlets write it as a non-terminating error; host cmdlets throw it unless
        "terminating": false. "server" (optional) limits a fault to commands on that server.
    { "command": "Test-ServiceHealth", "action": "hang", "seconds": 600 }
        The command sleeps (without the lock), then runs normally.
    { "command": "iisreset", "action": "exit", "code": 1, "message": "..." }
        iisreset and netsh print the message and set $LASTEXITCODE. For any other command "exit"
        ends the PowerShell process with that code (a crash), after saving the call.
    { "command": "Get-Queue", "action": "stuck" }
        The server's queues do not drain on that Get-Queue call (with "times": N, for N calls).
    { "service": "MSExchangeTransport", "action": "wont-start" }   (also "wont-stop"; "server" optional)
        Starting the service fails and it stays Stopped, so WaitForStatus times out.
    "times" counts down on every use and the fault is removed at 0; without "times" it stays.
    "command" also matches the method names AddSslCertificate, RemoveSslCertificate and WaitForStatus.

What is simulated, and what is simplified
-----------------------------------------
- Certificates are real: generated with .NET CertificateRequest, imported from the PFX bytes (a wrong
  password fails), exported as real PFX files. The public certificate has the same thumbprint on every
  Mailbox server, as behind one namespace.
- Exchange cmdlets behave as implicit-remoting proxies deliver them: every error is written
  ($PSCmdlet.WriteError, non-terminating), following only -ErrorAction and the module's (global)
  preference, never the caller's local $ErrorActionPreference; -ErrorAction SilentlyContinue hides it.
  Results are property bags typed 'Deserialized.<type>' with no methods. Host commands (Get-Service,
  Restart-Service, Get-WebBinding, iisreset, netsh...) stand in for compiled cmdlets and native tools:
  they follow the caller's preferences; binding objects and service controllers keep their methods.
- iisreset ends the Exchange PowerShell session (the /PowerShell endpoint lives in IIS): in-process,
  after an iisreset on the host every Exchange cmdlet fails with "the Exchange PowerShell session
  ended" until the module is imported again; through remoting, a server-side session that ran
  Register-ExchCertSimulatorSession -Kind exchange is ended (its process killed) by an iisreset on its
  server.
- Enable-ExchangeCertificate: services are additive; IIS binds Default Web Site *:443: and turns Require
  SSL on unless -DoNotRequireSsl; POP/IMAP on a wildcard certificate write Exchange's warning and the
  other services are enabled; SMTP makes the certificate the default (internal transport) certificate,
  asking "Overwrite the existing default SMTP certificate?" without -Force, after the other services were
  applied (under -NonInteractive the prompt fails and those stay applied).
- POP/IMAP serve a new X509CertificateName once both of their services started since the change, and
  only if a valid certificate with a private key covers the name and is enabled for the service (or is
  a wildcard that covers it).
- SMTP: each receive connector serves with STARTTLS the certificate its transport service picked when
  it last started (MSExchangeFrontEndTransport for FrontendTransport connectors such as 25 and 587,
  MSExchangeTransport for HubTransport ones and on Edge servers): among valid certificates with a
  private key enabled for SMTP, the one TlsCertificateName names, else those covering the connector's
  FQDN (the server's FQDN when it has none); CA-issued before self-signed, then the one that expires
  last; with none, no STARTTLS. Simplified: what SMTP serves changes only when that service starts.
- Served on loopback: src/simulator-tls (Node) serves what the state says on TLS ports, read at each
  handshake: IIS https bindings (http.sys's choice: SNI binding, then the IP-specific, then the
  wildcard one), POP/IMAP's activeCertificateThumbprint, each connector's activeCertificateThumbprint.
- Remove-ExchangeCertificate refuses only the internal transport certificate. New-ExchangeCertificate
  makes self-signed certificates (KeySize 1024, 2048 or 4096), with the subject's CN among its names.
- IIS bindings carry their http.sys certificate: netsh http update sslcert replaces it in place;
  AddSslCertificate on an http.sys binding that has one fails (0x800700B7), as http.sys refuses it.
- EdgeSync: see private/edge.ps1. Queues drain as private/connectors.ps1 says.
- Simplified: no chain trust (Status is Valid or DateInvalid), no -GenerateRequest, no CNG/ECC keys,
  no service dependencies, no Set-AuthConfig; Test-ServiceHealth checks the roles' required services
  that start automatically; iisreset stops and starts IISADMIN, WAS and W3SVC; an in-process session
  belongs to the host of the moment. Messages marked "ExchCertSimulator:" and some error texts (Test-
  ServiceHealth, EdgeSync file checks) are the simulator's words, not Exchange's.
#>

Set-StrictMode -Version 3.0

foreach ($file in @('state', 'faults', 'x509', 'certificates', 'iis', 'services', 'transport', 'connectors', 'organization', 'edge', 'inventory', 'setup')) {
    . (Join-Path -Path $PSScriptRoot -ChildPath ('private/' + $file + '.ps1'))
}

# The session starts now: remember each server's IIS reset count.
$statePath = [Environment]::GetEnvironmentVariable('EXCH_CERT_SIMULATOR_STATE')
if ($statePath) {
    try {
        $statePath = Resolve-SimPath -Path $statePath
        if ([System.IO.File]::Exists($statePath)) {
            $null = Use-SimState -Path $statePath -ReadOnly -Body { param($state) Initialize-SimSessionBaseline -State $state -Path $statePath }
        }
    } catch {
        # A state that cannot be read yet is read (and the session begins) at the first command.
        $null = $_
    }
}
Remove-Variable -Name statePath, file -ErrorAction SilentlyContinue

Export-ModuleMember -Function @(
    # Exchange
    'Get-ExchangeCertificate', 'Import-ExchangeCertificate', 'Enable-ExchangeCertificate', 'Export-ExchangeCertificate',
    'Remove-ExchangeCertificate', 'New-ExchangeCertificate',
    'Get-TransportService', 'Set-TransportService', 'Get-PopSettings', 'Set-PopSettings', 'Get-ImapSettings', 'Set-ImapSettings',
    'Get-SendConnector', 'Set-SendConnector', 'Get-ReceiveConnector', 'Set-ReceiveConnector', 'Get-Queue', 'Redirect-Message',
    'Get-ExchangeServer', 'Get-AuthConfig', 'Test-ServiceHealth', 'Get-ServerComponentState', 'Set-ServerComponentState',
    'New-EdgeSubscription', 'Remove-EdgeSubscription', 'Get-EdgeSubscription', 'Start-EdgeSynchronization', 'Test-EdgeSynchronization',
    # Host
    'Get-Service', 'Start-Service', 'Stop-Service', 'Restart-Service',
    'Get-WebBinding', 'New-WebBinding', 'Get-WebConfigurationProperty', 'Set-WebConfigurationProperty', 'netsh', 'iisreset',
    # Simulator
    'New-ExchCertSimulatorState', 'New-ExchCertSimulatorPfx', 'Get-ExchCertSimulatorState', 'Add-ExchCertSimulatorFault',
    'Register-ExchCertSimulatorSession'
)
