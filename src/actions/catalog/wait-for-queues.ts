import { lines, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * Waits until a server's transport queues are empty (Get-Queue), as maintenance mode requires
 * before the server goes offline. The poison queue (messages an administrator must look at) and
 * shadow redundancy queues (copies of messages another server delivers) do not count. When the
 * queues do not empty in time the step fails and names each queue that still holds messages.
 */
export const waitForQueues = defineAction({
  name: 'wait-for-queues',
  summary: "Wait until a server's transport queues are empty (Get-Queue), with a timeout.",
  runsOn: 'exchange',
  exchangeCmdlets: ['Get-Queue'],
  changes: false,
  destructive: false,
  fields: {
    server: field.server(),
    timeoutSeconds: field.number('How long to wait for the queues to empty (at most 10 hours).', { default: 600, integer: true, min: 1, max: 36_000 }),
    pollSeconds: field.number('How often to look.', { default: 10, integer: true, min: 1, max: 600 }),
  },
  outputs: {},
  title: (input) => `Wait until the queues of ${input.describe('server')} are empty (at most ${input.describe('timeoutSeconds')} s)`,
  compile: (input) => {
    const server = input.expr('server');
    return lines(
      `$deadline = [DateTime]::UtcNow.AddSeconds(${input.expr('timeoutSeconds')})`,
      'while ($true) {',
      `    $busy = @(${psExchange('Get-Queue', [['Server', server]])} | Where-Object { [string]$_.Identity -notlike '*\\Poison' -and [string]$_.Identity -notlike '*\\Shadow\\*' -and [int]$_.MessageCount -gt 0 })`,
      '    if ($busy.Count -eq 0) { break }',
      "    $left = @($busy | ForEach-Object { [string]$_.Identity + ' (' + [string]$_.Status + '): ' + [string]$_.MessageCount + ' message(s)' }) -join '; '",
      `    if ([DateTime]::UtcNow -ge $deadline) { throw ('exch-cert: the queues of ' + ${server} + ' did not empty within ' + ${input.expr('timeoutSeconds')} + ' s: ' + $left) }`,
      "    Write-Host ('exch-cert: waiting for ' + $left)",
      `    Start-Sleep -Seconds ${input.expr('pollSeconds')}`,
      '}',
      `Write-Host ('exch-cert: the queues of ' + ${server} + ' are empty')`,
    );
  },
});
