import { lines, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * Get-ExchangeServer, asked of one server: the organisation's Mailbox servers (Exchange 2013 and
 * later, `Version 15.x`) and, apart, its subscribed Edge Transport servers, which a renewal of the
 * Mailbox servers never includes. What `renew --all-servers` renews, and what `renew --server
 * A,B` checks its list against before anything else runs.
 */
export const listExchangeServers = defineAction({
  name: 'list-exchange-servers',
  summary: "List the organisation's Mailbox servers and, apart, its Edge Transport servers (Get-ExchangeServer).",
  runsOn: 'exchange',
  exchangeCmdlets: ['Get-ExchangeServer'],
  changes: false,
  destructive: false,
  fields: {
    server: field.server(),
  },
  outputs: {
    mailbox: { type: 'list', description: 'Names of the Mailbox servers, in the order Exchange lists them.' },
    mailboxFqdns: { type: 'list', description: 'Their FQDNs, in the same order.' },
    edge: { type: 'list', description: 'Names of the Edge Transport servers subscribed to the organisation.' },
  },
  title: (input) => `List the Exchange servers of the organisation of ${input.describe('server')}`,
  compile: () =>
    lines(
      `$all = @(${psExchange('Get-ExchangeServer')})`,
      "$mailbox = @($all | Where-Object { [string]$_.ServerRole -match 'Mailbox' -and [string]$_.AdminDisplayVersion -match '^Version 15\\.' })",
      "$edge = @($all | Where-Object { [string]$_.ServerRole -match 'Edge' })",
      "foreach ($each in $all) { Write-Host ('exch-cert: ' + [string]$each.Name + ' ' + [string]$each.ServerRole + ' ' + [string]$each.AdminDisplayVersion + ' ' + [string]$each.Fqdn) }",
      "Set-ExchCertOutput -Name 'mailbox' -Value @($mailbox | ForEach-Object { [string]$_.Name })",
      "Set-ExchCertOutput -Name 'mailboxFqdns' -Value @($mailbox | ForEach-Object { [string]$_.Fqdn })",
      "Set-ExchCertOutput -Name 'edge' -Value @($edge | ForEach-Object { [string]$_.Name })",
    ),
});
