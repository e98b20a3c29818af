# Manifest of the exch-cert Exchange simulator. The module itself documents how
# it works (see the comment at the top of ExchCertSimulator.psm1).
@{
    RootModule           = 'ExchCertSimulator.psm1'
    ModuleVersion        = '0.1.0'
    GUID                 = '5d7f3c1e-9b64-4f3a-a2d8-0c6e1b7a9f42'
    Author               = 'exch-cert'
    Description          = 'Simulated Exchange Server (certificates, IIS bindings, services) for rehearsing and testing exch-cert runbooks.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FunctionsToExport    = @(
        'Get-ExchangeCertificate', 'Import-ExchangeCertificate', 'Enable-ExchangeCertificate', 'Export-ExchangeCertificate',
        'Remove-ExchangeCertificate', 'New-ExchangeCertificate',
        'Get-PopSettings', 'Set-PopSettings', 'Get-ImapSettings', 'Set-ImapSettings',
        'Test-ServiceHealth', 'Get-ExchangeServer', 'Get-TransportService', 'Set-TransportService', 'Get-AuthConfig',
        'Get-Service', 'Start-Service', 'Stop-Service', 'Restart-Service', 'iisreset', 'Get-WebBinding', 'New-WebBinding',
        'New-ExchCertSimulatorState', 'New-ExchCertSimulatorPfx', 'Get-ExchCertSimulatorState', 'Add-ExchCertSimulatorFault'
    )
    CmdletsToExport      = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
}
