import { lines, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * Test-ServiceHealth, failing the step when any role reports RequiredServicesRunning false, when
 * the cmdlet writes an error (it does for a stopped required service), or when no role comes back
 * at all (an empty answer is not a healthy server). -ErrorAction Stop like every Exchange call:
 * through implicit remoting, -ErrorVariable does not see the server's errors.
 */
export const testServiceHealth = defineAction({
  name: 'test-service-health',
  summary: 'Run Test-ServiceHealth and fail when a required Exchange service is not running.',
  runsOn: 'exchange',
  exchangeCmdlets: ['Test-ServiceHealth'],
  changes: false,
  destructive: false,
  fields: {
    server: field.server(),
  },
  outputs: {},
  title: (input) => `Check that the required Exchange services run on ${input.describe('server')}`,
  compile: (input) =>
    lines(
      '$problems = @()',
      `$roles = @(${psExchange('Test-ServiceHealth', [['Server', input.expr('server')]])})`,
      'foreach ($role in $roles) {',
      "    Write-Host ('exch-cert: ' + $role.Role + ': required services running: ' + $role.RequiredServicesRunning)",
      "    if (-not $role.RequiredServicesRunning -or [string]$role.RequiredServicesRunning -eq 'False') {",
      "        $problems += ($role.Role + ': ' + (@($role.ServicesNotRunning) -join ', '))",
      '    }',
      '}',
      `if ($roles.Count -eq 0 -and $problems.Count -eq 0) { $problems += ('Test-ServiceHealth returned no server role for ' + ${input.expr('server')}) }`,
      "if ($problems.Count -gt 0) { throw ('exch-cert: required services are not running: ' + ($problems -join '; ')) }",
    ),
});
