import { lines, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * Points Send and Receive connectors at a certificate. A connector names its certificate by issuer
 * and subject (TlsCertificateName `<I>issuer<S>subject`), not thumbprint, so a renewal from another
 * CA or with another subject leaves it naming nothing unless it is updated. In a hybrid
 * organisation, the Hybrid Configuration Wizard must run again afterwards.
 */
export const updateConnectorCertificate = defineAction({
  name: 'update-connector-certificate',
  summary: 'Make Send and Receive connectors name a certificate (TlsCertificateName), and verify them.',
  runsOn: 'exchange',
  exchangeCmdlets: ['Get-ExchangeCertificate', 'Get-SendConnector', 'Set-SendConnector', 'Get-ReceiveConnector', 'Set-ReceiveConnector'],
  changes: true,
  destructive: false,
  fields: {
    server: field.server(),
    connectors: field.list("The connectors, as 'send|NAME' or 'receive|IDENTITY' (e.g. the preflight's connectors output).", { minItems: 0 }),
    thumbprint: field.thumbprint('The certificate the connectors must name.'),
  },
  outputs: {
    changed: { type: 'boolean', description: 'Whether a connector changed.' },
  },
  title: (input) => `Make the connectors ${input.describe('connectors')} name certificate ${input.describe('thumbprint')}`,
  compile: (input) => {
    const server = input.expr('server');
    return lines(
      `$certificate = Find-ExchCertCertificate -Server ${server} -Thumbprint ${input.expr('thumbprint')}`,
      `if (-not $certificate) { throw ('exch-cert: certificate ' + ${input.expr('thumbprint')} + ' is not in the store of ' + ${server}) }`,
      "$name = '<I>' + [string]$certificate.Issuer + '<S>' + [string]$certificate.Subject",
      '$changed = $false',
      `foreach ($entry in @(${input.expr('connectors')})) {`,
      "    $kind, $identity = ([string]$entry).Split('|', 2)",
      "    if ($kind -eq 'send') {",
      `        if ([string](${psExchange('Get-SendConnector', [['Identity', '$identity']])}).TlsCertificateName -eq $name) { continue }`,
      `        ${psExchange('Set-SendConnector', [['Identity', '$identity'], ['TlsCertificateName', '$name']])}`,
      `        $after = [string](${psExchange('Get-SendConnector', [['Identity', '$identity']])}).TlsCertificateName`,
      '    } else {',
      `        if ([string](${psExchange('Get-ReceiveConnector', [['Identity', '$identity']])}).TlsCertificateName -eq $name) { continue }`,
      `        ${psExchange('Set-ReceiveConnector', [['Identity', '$identity'], ['TlsCertificateName', '$name']])}`,
      `        $after = [string](${psExchange('Get-ReceiveConnector', [['Identity', '$identity']])}).TlsCertificateName`,
      '    }',
      "    if ($after -ne $name) { throw ('exch-cert: ' + $kind + ' connector ' + $identity + ' still names ' + $after) }",
      "    Write-Host ('exch-cert: ' + $kind + ' connector ' + $identity + ' now names ' + $name)",
      '    $changed = $true',
      '}',
      'if (-not $changed) { Set-ExchCertUnchanged }',
      "Set-ExchCertOutput -Name 'changed' -Value $changed",
      "if ($changed) { Write-Warning 'exch-cert: connectors changed; in a hybrid organisation, run the Hybrid Configuration Wizard again' }",
    );
  },
});
