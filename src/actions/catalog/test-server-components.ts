import { lines, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * Get-ServerComponentState for every component of a server. With `require` (the default) the
 * step fails unless each one is Active, except those in `allowed`: the components that were not
 * Active before maintenance began (another requester's business, left as they were). Without
 * `require` it only records them, as the first step of maintenance mode does.
 */
export const testServerComponents = defineAction({
  name: 'test-server-components',
  summary: 'Check that every server component is Active (Get-ServerComponentState), or record those that are not.',
  runsOn: 'exchange',
  exchangeCmdlets: ['Get-ServerComponentState'],
  changes: false,
  destructive: false,
  fields: {
    server: field.server(),
    allowed: field.list('Components that may be other than Active (they were before).', {
      default: [],
      minItems: 0,
      pattern: /^[A-Za-z]+$/,
      patternMessage: 'expected component names such as HubTransport',
    }),
    require: field.boolean('Fail unless every other component is Active (off: only record them).', { default: true, planTime: true }),
  },
  outputs: {
    notActive: { type: 'list', description: 'The components that are not Active.' },
    checked: { type: 'boolean', description: 'True once the components were read (a step that did not run leaves it unset).' },
  },
  title: (input) => (input.boolean('require') ? `Check that every component of ${input.describe('server')} is Active` : `Record the components of ${input.describe('server')} that are not Active`),
  compile: (input) => {
    const server = input.expr('server');
    return lines(
      `$components = @(${psExchange('Get-ServerComponentState', [['Identity', server]])})`,
      `if ($components.Count -eq 0) { throw ('exch-cert: Get-ServerComponentState returned no component for ' + ${server}) }`,
      `$allowed = @(${input.expr('allowed')})`,
      "$notActive = @($components | Where-Object { [string]$_.State -ne 'Active' } | ForEach-Object { [string]$_.Component })",
      "foreach ($component in $components) { if ([string]$component.State -ne 'Active') { Write-Host ('exch-cert: ' + [string]$component.Component + ' is ' + [string]$component.State) } }",
      input.boolean('require') &&
        lines(
          '$unexpected = @($notActive | Where-Object { $allowed -notcontains $_ })',
          `if ($unexpected.Count -gt 0) { throw ('exch-cert: on ' + ${server} + ' these components are not Active: ' + ($unexpected -join ', ') + '. Bring them back with Set-ServerComponentState ' + ${server} + ' -Component NAME -Requester Maintenance -State Active') }`,
          "if ($notActive.Count -gt 0) { Write-Host ('exch-cert: left as they were before: ' + ($notActive -join ', ')) } else { Write-Host 'exch-cert: every component is Active' }",
        ),
      "Set-ExchCertOutput -Name 'notActive' -Value $notActive",
      "Set-ExchCertOutput -Name 'checked' -Value $true",
    );
  },
});
