import { lines, hostBlock } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * Starts services that must run and do not (a restart that could not start one, an interrupted
 * run), and waits until each is Running. Services already running are not touched. For rollbacks
 * and resumed runs: whatever a run stopped is started again.
 */
export const startServices = defineAction({
  name: 'start-services',
  summary: 'Start the listed services that are not running, and wait until each is Running.',
  runsOn: 'host',
  exchangeCmdlets: [],
  changes: true,
  destructive: false,
  fields: {
    server: field.server(),
    services: field.list('Service names (e.g. the preflight\'s runningServices output).', { minItems: 0, pattern: /^[A-Za-z0-9_.*-]+$/, patternMessage: 'expected Windows service names such as MSExchangeTransport' }),
    waitSeconds: field.number('How long to wait for each service to be Running.', { default: 300, integer: true, min: 1, max: 3600 }),
  },
  outputs: {
    started: { type: 'list', description: 'The services that were started.' },
  },
  title: (input) => `Start ${input.describe('services')} where stopped`,
  compile: (input) =>
    lines(
      `$started = @(${hostBlock(
        input.expr('server'),
        [
          ['Names', input.expr('services')],
          ['WaitSeconds', input.expr('waitSeconds')],
        ],
        lines(
          'foreach ($name in @($Names)) {',
          '    $service = Get-Service -Name $name',
          "    if ([string]$service.Status -eq 'Running') { continue }",
          "    Write-Host ('exch-cert: starting ' + $name + ', which is ' + $service.Status)",
          '    Start-Service -Name $name',
          "    (Get-Service -Name $name).WaitForStatus('Running', [TimeSpan]::FromSeconds($WaitSeconds))",
          '    $name',
          '}',
        ),
      )})`,
      'if ($started.Count -eq 0) { Set-ExchCertUnchanged }',
      "Set-ExchCertOutput -Name 'started' -Value $started",
    ),
});
