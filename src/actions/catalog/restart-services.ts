import { lines, hostBlock } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * Restarts Windows services on the Exchange server and waits until each is Running again; a
 * restart that leaves one stopped fails the step. Services that are stopped are left stopped by
 * default (POP3 and IMAP4 are stopped on a fresh install, and a renewal must not start services
 * nobody uses), except those in `mustRun`: services that ran when the run began, which a failed
 * attempt may have stopped. So a retry, a --resume or a rollback starts them again.
 */
export const restartServices = defineAction({
  name: 'restart-services',
  summary: 'Restart Windows services on the Exchange server and wait until each is Running again.',
  runsOn: 'host',
  exchangeCmdlets: [],
  changes: true,
  destructive: false,
  fields: {
    server: field.server(),
    services: field.list('Service names, e.g. MSExchangeTransport.', {
      required: true,
      pattern: /^[A-Za-z0-9_.-]+$/,
      patternMessage: 'expected a Windows service name such as MSExchangeTransport',
    }),
    includeStopped: field.boolean('Also start services that are stopped now (off: they stay stopped).', { default: false }),
    mustRun: field.list('Services that ran when the run began (e.g. the preflight\'s runningServices output): started even when stopped now.', { minItems: 0 }),
    waitSeconds: field.number('How long to wait for each service to be Running again.', { default: 300, integer: true, min: 1, max: 3600 }),
  },
  outputs: {
    restarted: { type: 'list', description: 'The services that were restarted (stopped services left alone are not listed).' },
  },
  title: (input) => `Restart ${input.describe('services')}`,
  compile: (input) =>
    lines(
      `$restarted = @(${hostBlock(
        input.expr('server'),
        [
          ['Names', input.expr('services')],
          ['IncludeStopped', input.expr('includeStopped')],
          ['MustRun', input.has('mustRun') ? input.expr('mustRun') : '@()'],
          ['WaitSeconds', input.expr('waitSeconds')],
        ],
        lines(
          'foreach ($name in $Names) {',
          '    $service = Get-Service -Name $name',
          "    if ([string]$service.Status -ne 'Running' -and -not $IncludeStopped -and @($MustRun) -notcontains $name) {",
          "        Write-Host ('exch-cert: ' + $name + ' is ' + $service.Status + '; left as it is')",
          '        continue',
          '    }',
          "    Write-Host ('exch-cert: restarting ' + $name)",
          '    Restart-Service -Name $name -Force',
          "    (Get-Service -Name $name).WaitForStatus('Running', [TimeSpan]::FromSeconds($WaitSeconds))",
          '    $name',
          '}',
        ),
      )})`,
      'if ($restarted.Count -eq 0) { Set-ExchCertUnchanged }',
      "Set-ExchCertOutput -Name 'restarted' -Value $restarted",
    ),
});
