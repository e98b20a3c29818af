import { lines, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { edgeBlock } from '../edge-block.js';
import { field } from '../fields.js';

/**
 * On an Edge Transport server: New-EdgeSubscription -FileName there, the file that carries the
 * Edge's certificate and a bootstrap account to the organisation. Exchange's own confirmation is
 * replaced by exch-cert's (the step asks, quoting what Exchange warns), then -Force. The file stays
 * on the Edge (it holds the bootstrap account's password, so it never enters a journal or a log);
 * the step reports where it is, when its bootstrap account expires, its SHA-256 and the certificate
 * it carries, which must be the one given.
 */
export const newEdgeSubscriptionFile = defineAction({
  name: 'new-edge-subscription-file',
  summary: 'Create an Edge subscription file on an Edge Transport server (New-EdgeSubscription -FileName there).',
  runsOn: 'host',
  exchangeCmdlets: [],
  changes: true,
  destructive: true,
  fields: {
    edge: field.server(),
    path: field.string('Where the file is written, on the Edge.', { required: true }),
    certificate: field.thumbprint('The certificate the file must carry: the Edge\u2019s SMTP certificate.'),
    minutes: field.number('How long the bootstrap account lives (AccountExpiryDuration): the file must be imported inside the organisation before then.', {
      default: 1440,
      integer: true,
      min: 2,
      max: 10_080,
    }),
  },
  outputs: {
    path: { type: 'string', description: 'Where the file is, on the Edge.' },
    createdAt: { type: 'string', description: 'When it was made, ISO 8601 UTC (this machine\u2019s clock).' },
    expiresAt: { type: 'string', description: 'When its bootstrap account expires, ISO 8601 UTC: by the Edge\u2019s clock, as the file says (else from this machine\u2019s).' },
    sha256: { type: 'string', description: 'SHA-256 of the file, checked when it is imported.' },
  },
  title: (input) =>
    `Create a new Edge subscription file on ${input.describe('edge')}. Exchange warns: subscribing deletes the accepted domains, message classifications, remote domains and Send connectors made by hand on the Edge (EdgeSync manages them from then on), and the subscription must be completed inside the organization within ${input.describe('minutes')} minutes`,
  compile: (input) =>
    lines(
      `$minutes = ${input.expr('minutes')}`,
      `$wanted = ([string]${input.expr('certificate')}).ToUpperInvariant()`,
      '$createdAt = [DateTime]::UtcNow',
      `$made = ${edgeBlock(
        input.expr('edge'),
        [
          ['Path', input.expr('path')],
          ['Minutes', '$minutes'],
        ],
        lines(
          '$file = [System.IO.Path]::GetFullPath($Path)',
          '$folder = [System.IO.Path]::GetDirectoryName($file)',
          'if ($folder -and -not [System.IO.Directory]::Exists($folder)) { $null = [System.IO.Directory]::CreateDirectory($folder) }',
          // exch-cert asked before this step; -Force answers Exchange's own prompt, which cannot be shown here.
          psExchange('New-EdgeSubscription', [['FileName', '$file'], ['AccountExpiryDuration', '([TimeSpan]::FromMinutes($Minutes))'], ['Force', true]]),
          '$bytes = [System.IO.File]::ReadAllBytes($file)',
          "$sha = [BitConverter]::ToString([System.Security.Cryptography.SHA256]::Create().ComputeHash($bytes)).Replace('-', '')",
          '[xml]$xml = [System.Text.Encoding]::UTF8.GetString($bytes).TrimStart([char]0xFEFF)',
          '$blob = [string]$xml.DocumentElement.EdgeCertificateBlob',
          "$carried = ''",
          'if ($blob) { $carried = (New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2 -ArgumentList @(, [Convert]::FromBase64String($blob))).Thumbprint.ToUpperInvariant() }',
          // By the Edge's own clock, which is not the domain's: the bootstrap account expires at EffectiveTime + Duration.
          "$expires = ''",
          'try { $expires = [DateTime]::Parse([string]$xml.DocumentElement.EffectiveTime, [System.Globalization.CultureInfo]::InvariantCulture, [System.Globalization.DateTimeStyles]::AdjustToUniversal).Add([TimeSpan]::Parse([string]$xml.DocumentElement.Duration, [System.Globalization.CultureInfo]::InvariantCulture)).ToString(\'o\') } catch { $expires = \'\' }',
          '@{ Path = $file; Sha256 = $sha; Certificate = $carried; ExpiresAt = $expires }',
        ),
      )}`,
      "if ($made.Certificate -and $made.Certificate -ne $wanted) { throw ('exch-cert: the subscription file carries certificate ' + $made.Certificate + ', not ' + $wanted + ': the Edge does not use the new certificate for SMTP') }",
      "$expiresAt = $createdAt.AddMinutes($minutes).ToString('o')",
      "if ($made.ExpiresAt) { $expiresAt = [string]$made.ExpiresAt }",
      "Write-Host ('exch-cert: ' + $made.Path + ' on the Edge carries ' + $wanted + '; its bootstrap account expires at ' + $expiresAt)",
      "Set-ExchCertOutput -Name 'path' -Value ([string]$made.Path)",
      "Set-ExchCertOutput -Name 'createdAt' -Value $createdAt.ToString('o')",
      "Set-ExchCertOutput -Name 'expiresAt' -Value $expiresAt",
      "Set-ExchCertOutput -Name 'sha256' -Value ([string]$made.Sha256)",
    ),
});
