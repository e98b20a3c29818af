import { lines, NO_CONFIRM, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * Inside the organisation: Start-EdgeSynchronization (unless `start` is off), then
 * Test-EdgeSynchronization for one Edge, which must report SyncStatus Normal; otherwise the step
 * fails with what it reported (status and failure detail, such as "The supplied credential is
 * invalid." after the Edge's certificate changed). With `require` off it only records the status.
 */
export const testEdgeSynchronization = defineAction({
  name: 'test-edge-synchronization',
  summary: 'Synchronize with an Edge Transport server and check that EdgeSync reports SyncStatus Normal (Start-/Test-EdgeSynchronization).',
  runsOn: 'exchange',
  exchangeCmdlets: (input) => (input.boolean('start') ? ['Start-EdgeSynchronization', 'Test-EdgeSynchronization'] : ['Test-EdgeSynchronization']),
  changes: false,
  destructive: false,
  fields: {
    server: field.server(),
    edge: field.server(),
    start: field.boolean('Start a synchronization first (Start-EdgeSynchronization -ForceFullSync).', { default: true, planTime: true }),
    require: field.boolean('Fail unless SyncStatus is Normal (off: only record it).', { default: true, planTime: true }),
  },
  outputs: {
    syncStatus: { type: 'string', description: 'What Test-EdgeSynchronization reported (Normal, CouldNotConnect, ...).' },
  },
  title: (input) => `Check that EdgeSync with ${input.describe('edge')} is Normal${input.boolean('start') ? ' after a synchronization' : ''}`,
  compile: (input) => {
    const edge = input.expr('edge');
    return lines(
      input.boolean('start') &&
        lines(
          `foreach ($result in @(${psExchange('Start-EdgeSynchronization', [['Server', input.expr('server')], ['TargetServer', edge], ['ForceFullSync', true], NO_CONFIRM])})) {`,
          "    Write-Host ('exch-cert: Start-EdgeSynchronization: ' + [string]$result.Type + ' ' + [string]$result.Result + ' ' + [string]$result.FailureDetails)",
          '}',
        ),
      input.boolean('require')
        ? `$reports = @(${psExchange('Test-EdgeSynchronization', [['TargetServer', edge]])})`
        : lines('$reports = @()', `try { $reports = @(${psExchange('Test-EdgeSynchronization', [['TargetServer', edge]])}) } catch { Write-Host ('exch-cert: Test-EdgeSynchronization: ' + $_.Exception.Message) }`),
      "$status = (@($reports | ForEach-Object { [string]$_.SyncStatus }) | Select-Object -Unique) -join ', '",
      "$detail = (@($reports | ForEach-Object { [string]$_.FailureDetail } | Where-Object { $_ }) | Select-Object -Unique) -join ' '",
      `Write-Host ('exch-cert: EdgeSync with ' + ${edge} + ': ' + $(if ($status) { $status } else { 'no report' }) + $(if ($detail) { ' (' + $detail + ')' } else { '' }))`,
      input.boolean('require') && `if ($reports.Count -eq 0 -or $status -ne 'Normal') { throw ('exch-cert: EdgeSync with ' + ${edge} + ' is not Normal: Test-EdgeSynchronization reported ' + $(if ($status) { $status } else { 'nothing' }) + $(if ($detail) { ': ' + $detail } else { '' })) }`,
      "Set-ExchCertOutput -Name 'syncStatus' -Value $status",
    );
  },
});
