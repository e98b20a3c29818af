import { lines, NO_CONFIRM, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/** The requesters Set-ServerComponentState accepts; maintenance mode is `Maintenance`'s. */
export const COMPONENT_REQUESTERS = ['Maintenance', 'HealthAPI', 'Sidelined', 'Functional', 'Deployment'] as const;

/**
 * Set-ServerComponentState for one component and requester, the building block of maintenance
 * mode (HubTransport Draining, ServerWideOffline Inactive, and both back to Active). A component's
 * state is the worst any requester set, so the state is read back: a component another requester
 * still holds Inactive is not Active, and the step says so rather than report success.
 */
export const setServerComponentState = defineAction({
  name: 'set-server-component-state',
  summary: 'Set a server component state for a requester (Set-ServerComponentState), read back.',
  runsOn: 'exchange',
  exchangeCmdlets: ['Get-ServerComponentState', 'Set-ServerComponentState'],
  changes: true,
  destructive: false,
  fields: {
    server: field.server(),
    component: field.string('The component, such as HubTransport or ServerWideOffline.', {
      required: true,
      pattern: /^[A-Za-z]+$/,
      patternMessage: 'expected a component name such as HubTransport or ServerWideOffline',
    }),
    state: field.string('The state to set.', { required: true, enum: ['Active', 'Inactive', 'Draining'] }),
    requester: field.string('Who sets it; maintenance mode is Maintenance.', { default: 'Maintenance', enum: COMPONENT_REQUESTERS }),
  },
  outputs: {
    previousState: { type: 'string', description: 'The state of the component before the step.' },
  },
  title: (input) => `Set ${input.describe('component')} on ${input.describe('server')} to ${input.describe('state')} (requester ${input.describe('requester')})`,
  compile: (input) => {
    const server = input.expr('server');
    const read = `[string](${psExchange('Get-ServerComponentState', [['Identity', server], ['Component', '$component']])}).State`;
    return lines(
      `$component = ${input.expr('component')}`,
      `$wanted = ${input.expr('state')}`,
      `$before = ${read}`,
      psExchange('Set-ServerComponentState', [['Identity', server], ['Component', '$component'], ['Requester', input.expr('requester')], ['State', '$wanted'], NO_CONFIRM]),
      `$after = ${read}`,
      'if ($after -ne $wanted) {',
      `    throw ('exch-cert: Set-ServerComponentState reported no error, but ' + $component + ' on ' + ${server} + ' is ' + $after + ', not ' + $wanted + '; another requester holds it (see the LocalStates of Get-ServerComponentState ' + ${server} + ' -Component ' + $component + ')')`,
      '}',
      "Write-Host ('exch-cert: ' + $component + ' was ' + $before + ', is ' + $after)",
      'if ($before -eq $wanted) { Set-ExchCertUnchanged }',
      "Set-ExchCertOutput -Name 'previousState' -Value $before",
    );
  },
});
