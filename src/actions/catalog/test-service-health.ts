import { lines, psCommand } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * Test-ServiceHealth, failing the step when any role reports
 * RequiredServicesRunning false, and naming the services that are down.
 */
export const testServiceHealth = defineAction({
  name: 'test-service-health',
  summary: 'Run Test-ServiceHealth and fail when a required Exchange service is not running.',
  runsOn: 'exchange',
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
      `foreach ($role in @(${psCommand('Test-ServiceHealth', [['Server', input.expr('server')]])})) {`,
      "    Write-Host ('exch-cert: ' + $role.Role + ': required services running: ' + $role.RequiredServicesRunning)",
      "    if (-not $role.RequiredServicesRunning -or [string]$role.RequiredServicesRunning -eq 'False') {",
      "        $problems += ($role.Role + ': ' + (@($role.ServicesNotRunning) -join ', '))",
      '    }',
      '}',
      "if ($problems.Count -gt 0) { throw ('exch-cert: required services are not running: ' + ($problems -join '; ')) }",
    ),
});
