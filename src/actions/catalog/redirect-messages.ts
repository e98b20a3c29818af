import { lines, NO_CONFIRM, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * Redirect-Message: the messages in a draining server's queues go to another Mailbox server, as
 * Exchange's maintenance procedure does. The target must be another Mailbox server whose transport
 * is Active (redirecting to a server that is itself out of service would only move the queue), and
 * it is named by its FQDN, which is what -Target takes. No cmdlet reports a redirection afterwards,
 * so the step reads back what it can: the target as Exchange knows it.
 */
export const redirectMessages = defineAction({
  name: 'redirect-messages',
  summary: "Send a draining server's queued messages to another Mailbox server (Redirect-Message).",
  runsOn: 'exchange',
  exchangeCmdlets: ['Get-ExchangeServer', 'Get-ServerComponentState', 'Redirect-Message'],
  changes: true,
  destructive: false,
  fields: {
    server: field.server(),
    target: field.server(),
  },
  outputs: {
    target: { type: 'string', description: 'The FQDN of the server the messages go to.' },
  },
  title: (input) => `Redirect the messages queued on ${input.describe('server')} to ${input.describe('target')}`,
  compile: (input) => {
    const server = input.expr('server');
    const target = input.expr('target');
    return lines(
      `$target = ${psExchange('Get-ExchangeServer', [['Identity', target]])}`,
      `if ([string]$target.ServerRole -notmatch 'Mailbox') { throw ('exch-cert: ' + ${target} + ' is a ' + [string]$target.ServerRole + ' server; messages can only be redirected to a Mailbox server') }`,
      `if ([string]$target.Name -eq ([string]${server}).Split('.')[0] -or [string]$target.Fqdn -eq ${server}) { throw ('exch-cert: the messages of ' + ${server} + ' cannot be redirected to itself') }`,
      `$transport = [string](${psExchange('Get-ServerComponentState', [['Identity', target], ['Component', "'HubTransport'"]])}).State`,
      "if ($transport -ne 'Active') { throw ('exch-cert: the transport of ' + [string]$target.Name + ' is ' + $transport + ', not Active: redirect to a server that is in service') }",
      psExchange('Redirect-Message', [['Server', server], ['Target', '([string]$target.Fqdn)'], NO_CONFIRM]),
      "Write-Host ('exch-cert: the messages of ' + " + server + " + ' go to ' + [string]$target.Fqdn)",
      "Set-ExchCertOutput -Name 'target' -Value ([string]$target.Fqdn)",
    );
  },
});
