import { psStringArray } from '../../powershell/quote.js';
import { lines, psCommand } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

export const EXCHANGE_SERVICES = ['IIS', 'SMTP', 'POP', 'IMAP', 'UM', 'UMCallRouter'] as const;

/**
 * Enable-ExchangeCertificate -Force. Without -Force the SMTP prompt blocks an
 * unattended run (P13); with it the certificate silently becomes the internal
 * transport certificate, which Microsoft advises against. So when SMTP is
 * enabled the previous internal transport thumbprint is recorded first and put
 * back right after (by enabling that certificate for SMTP with -Force, since
 * the property itself is read-only), unless the step opts in to replacing it.
 */
export const enableCertificate = defineAction({
  name: 'enable-certificate',
  summary: 'Enable a certificate for Exchange services (Enable-ExchangeCertificate -Force), keeping the internal transport certificate.',
  runsOn: 'exchange',
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
    doNotRequireSsl: field.boolean('For IIS: do not turn on "Require SSL" on the Default Web Site.', { default: false, planTime: true }),
    replaceInternalTransportCertificate: field.boolean(
      'Let the certificate become the internal transport certificate (what -Force does silently). Off by default, as Microsoft advises.',
      { default: false, planTime: true },
    ),
  },
  outputs: {
    services: { type: 'list', description: 'The services the certificate was enabled for (POP and IMAP are left out for a wildcard certificate).' },
  },
  title: (input) => `Enable the certificate for ${input.list('services').join(', ')}`,
  compile: (input) => {
    const server = input.expr('server');
    const services = input.list('services');
    const popImap = services.includes('POP') || services.includes('IMAP');
    const keepInternal = services.includes('SMTP') && !input.boolean('replaceInternalTransportCertificate');
    const enable = psCommand('Enable-ExchangeCertificate', [
      ['Server', server],
      ['Thumbprint', '$thumbprint'],
      ['Services', '$services'],
      ['DoNotRequireSsl', input.boolean('doNotRequireSsl')],
      ['Force', true],
    ]);
    return lines(
      `$thumbprint = ${input.expr('thumbprint')}`,
      `$certificate = ${psCommand('Get-ExchangeCertificate', [['Server', input.expr('server')], ['Thumbprint', '$thumbprint']])}`,
      `$services = ${psStringArray(services)}`,
      popImap &&
        lines(
          '# Exchange refuses POP and IMAP on a wildcard certificate; set-pop-imap-certificate-name covers them (P8).',
          "if ([string]$certificate.Subject -match '(^|,\\s*)CN=\\*\\.') {",
          "    Write-Warning 'exch-cert: wildcard certificate: POP and IMAP are not enabled here; set their X509CertificateName instead'",
          "    $services = @($services | Where-Object { $_ -ne 'POP' -and $_ -ne 'IMAP' })",
          '}',
        ),
      "$enabled = @(([string]$certificate.Services) -split ',\\s*' | Where-Object { $_ })",
      '$missing = @($services | Where-Object { $enabled -notcontains $_ })',
      'if ($missing.Count -eq 0) {',
      "    Write-Host ('exch-cert: already enabled for ' + ($services -join ', '))",
      '    Set-ExchCertUnchanged',
      '} else {',
      keepInternal
        ? lines(
            `    $internalBefore = [string](${psCommand('Get-TransportService', [['Identity', server]])}).InternalTransportCertificateThumbprint`,
            '    try {',
            `        ${enable}`,
            '    } finally {',
            '        # -Force makes this certificate the internal transport certificate (P13). The property is',
            '        # read-only; enabling the previous certificate for SMTP with -Force is how it goes back.',
            '        # In finally: also when Enable failed half-way.',
            `        $internalAfter = [string](${psCommand('Get-TransportService', [['Identity', server]])}).InternalTransportCertificateThumbprint`,
            '        if ($internalBefore -and $internalAfter -ne $internalBefore) {',
            `            ${psCommand('Enable-ExchangeCertificate', [['Server', server], ['Thumbprint', '$internalBefore'], ['Services', "@('SMTP')"], ['Force', true]])}`,
            "            Write-Host ('exch-cert: internal transport certificate kept at ' + $internalBefore)",
            '        }',
            '    }',
          )
        : `    ${enable}`,
      '}',
      "Set-ExchCertOutput -Name 'services' -Value $services",
    );
  },
});
