# Manifest of the exch-cert Exchange simulator. The module itself documents how
# it works (see the comment at the top of ExchCertSimulator.psm1).
@{
    RootModule           = 'ExchCertSimulator.psm1'
    ModuleVersion        = '0.2.0'
    GUID                 = '5d7f3c1e-9b64-4f3a-a2d8-0c6e1b7a9f42'
    Author               = 'exch-cert'
    Description          = 'Simulated Exchange Server organisation (certificates, IIS bindings, services, transport, Edge subscriptions) for rehearsing and testing exch-cert runbooks.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FunctionsToExport    = @(
        'Get-ExchangeCertificate', 'Import-ExchangeCertificate', 'Enable-ExchangeCertificate', 'Export-ExchangeCertificate',
        'Remove-ExchangeCertificate', 'New-ExchangeCertificate',
        'Get-TransportService', 'Set-TransportService', 'Get-PopSettings', 'Set-PopSettings', 'Get-ImapSettings', 'Set-ImapSettings',
        'Get-SendConnector', 'Set-SendConnector', 'Get-ReceiveConnector', 'Set-ReceiveConnector', 'Get-Queue', 'Redirect-Message',
        'Get-ExchangeServer', 'Get-AuthConfig', 'Test-ServiceHealth', 'Get-ServerComponentState', 'Set-ServerComponentState',
        'New-EdgeSubscription', 'Remove-EdgeSubscription', 'Get-EdgeSubscription', 'Start-EdgeSynchronization', 'Test-EdgeSynchronization',
        'Get-Service', 'Start-Service', 'Stop-Service', 'Restart-Service',
        'Get-WebBinding', 'New-WebBinding', 'Get-WebConfigurationProperty', 'Set-WebConfigurationProperty', 'netsh', 'iisreset',
        'New-ExchCertSimulatorState', 'New-ExchCertSimulatorPfx', 'Get-ExchCertSimulatorState', 'Add-ExchCertSimulatorFault',
        'Register-ExchCertSimulatorSession'
    )
    CmdletsToExport      = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    FileList             = @(
        'ExchCertSimulator.psm1', 'private/state.ps1', 'private/faults.ps1', 'private/x509.ps1', 'private/certificates.ps1',
        'private/iis.ps1', 'private/services.ps1', 'private/transport.ps1', 'private/connectors.ps1', 'private/organization.ps1',
        'private/edge.ps1', 'private/inventory.ps1', 'private/setup.ps1'
    )
}
