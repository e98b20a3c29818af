import { psStringArray } from '../../powershell/quote.js';
import { lines, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

export const EXCHANGE_SERVICES = ['IIS', 'SMTP', 'POP', 'IMAP', 'UM', 'UMCallRouter'] as const;

/**
 * Enable-ExchangeCertificate -Force. Without -Force the SMTP prompt blocks an unattended run; with
 * it the certificate silently becomes the internal transport certificate, which Microsoft advises
 * against. So when SMTP is enabled the previous internal transport thumbprint is recorded first and
 * put back right after (by enabling that certificate for SMTP with -Force, since the property itself
 * is read-only), unless the step opts in to replacing it. Afterwards the certificate must show every
 * service asked for: Exchange's word that it worked is not enough.
 */
export const enableCertificate = defineAction({
  name: 'enable-certificate',
  summary: 'Enable a certificate for Exchange services (Enable-ExchangeCertificate -Force), keeping the internal transport certificate.',
  runsOn: 'exchange',
  exchangeCmdlets: ['Get-ExchangeCertificate', 'Enable-ExchangeCertificate', 'Get-TransportService'],
  changes: true,
  destructive: false,
  fields: {
    server: field.server(),
    thumbprint: field.thumbprint('Thumbprint of the certificate to enable.'),
    services: field.list('Services to enable the certificate for. Services are additive: enabling never disables another certificate.', {
      required: true,
      enum: EXCHANGE_SERVICES,
      planTime: true,
    }),
    // Exchange turns Require SSL on unless told not to, which breaks an HTTP-to-HTTPS redirect set-up.
    doNotRequireSsl: field.boolean('For IIS: leave "Require SSL" on the Default Web Site as it is (the default). false lets Exchange turn it on.', { default: true, planTime: true }),
    replaceInternalTransportCertificate: field.boolean(
      'Let the certificate become the internal transport certificate (what -Force does silently). Off by default, as Microsoft advises.',
      { default: false, planTime: true },
    ),
  },
  outputs: {
    services: { type: 'list', description: 'The services the certificate was enabled for (POP and IMAP are left out for a wildcard certificate).' },
    changed: { type: 'boolean', description: 'Whether a service was enabled now (false when it already had them all).' },
  },
  title: (input) => `Enable the certificate for ${input.list('services').join(', ')}`,
  compile: (input) => {
    const server = input.expr('server');
    const services = input.list('services');
    const popImap = services.includes('POP') || services.includes('IMAP');
    const keepInternal = services.includes('SMTP') && !input.boolean('replaceInternalTransportCertificate');
    const transport = `[string](${psExchange('Get-TransportService', [['Identity', input.serverName('server')]])}).InternalTransportCertificateThumbprint`;
    const enable = psExchange('Enable-ExchangeCertificate', [
      ['Server', server],
      ['Thumbprint', '$thumbprint'],
      ['Services', '$services'],
      ['DoNotRequireSsl', input.boolean('doNotRequireSsl')],
      ['Force', true],
    ]);
    return lines(
      `$thumbprint = ${input.expr('thumbprint')}`,
      `$certificate = Find-ExchCertCertificate -Server ${server} -Thumbprint $thumbprint`,
      `if (-not $certificate) { throw ('exch-cert: certificate ' + $thumbprint + ' is not in the store of ' + ${server}) }`,
      `$services = ${psStringArray(services)}`,
      popImap &&
        lines(
          '# Exchange does not enable POP and IMAP on a wildcard certificate; set-pop-imap-certificate-name covers them.',
          "if ([string]$certificate.Subject -match '(^|,\\s*)CN=\\*\\.') {",
          "    Write-Warning 'exch-cert: wildcard certificate: POP and IMAP are not enabled here; set their X509CertificateName instead'",
          "    $services = @($services | Where-Object { $_ -ne 'POP' -and $_ -ne 'IMAP' })",
          '}',
        ),
      "$enabled = @(([string]$certificate.Services) -split ',\\s*' | Where-Object { $_ })",
      '$missing = @($services | Where-Object { $enabled -notcontains $_ })',
      "Set-ExchCertOutput -Name 'changed' -Value ($missing.Count -gt 0)",
      'if ($missing.Count -eq 0) {',
      "    Write-Host ('exch-cert: already enabled for ' + ($services -join ', '))",
      '    Set-ExchCertUnchanged',
      '} else {',
      keepInternal
        ? lines(
            `    $internalBefore = ${transport}`,
            '    $enableError = $null',
            '    try {',
            `        ${enable}`,
            '    } catch {',
            '        $enableError = $_',
            '    }',
            '    # -Force makes this certificate the internal transport certificate. The property is read-only;',
            '    # enabling the previous certificate for SMTP with -Force is how it goes back. Also when Enable',
            '    # failed half-way.',
            `    if ($internalBefore -and ${transport} -ne $internalBefore) {`,
            `        ${psExchange('Enable-ExchangeCertificate', [['Server', server], ['Thumbprint', '$internalBefore'], ['Services', "@('SMTP')"], ['Force', true]])}`,
            `        if (${transport} -ne $internalBefore) { throw ('exch-cert: could not keep ' + $internalBefore + ' as the internal transport certificate') }`,
            "        Write-Host ('exch-cert: internal transport certificate kept at ' + $internalBefore)",
            '    }',
            '    if ($enableError) { throw $enableError }',
          )
        : `    ${enable}`,
      `    $now = @(([string](Find-ExchCertCertificate -Server ${server} -Thumbprint $thumbprint).Services) -split ',\\s*' | Where-Object { $_ })`,
      '    $still = @($services | Where-Object { $now -notcontains $_ })',
      "    if ($still.Count -gt 0) { throw ('exch-cert: Enable-ExchangeCertificate reported no error, but ' + $thumbprint + ' is still not enabled for ' + ($still -join ', ')) }",
      '}',
      "Set-ExchCertOutput -Name 'services' -Value $services",
    );
  },
});
