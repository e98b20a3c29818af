import { hostBlock, lines, NO_CONFIRM, psExchange } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

const CONNECTOR_CHOICES = ['keep', 'create', 'none'] as const;

/**
 * Inside the organisation (the Mailbox server this plan is connected to): the Edge subscription made
 * again from the file the Edge wrote. The file travels as data through exch-cert's own sessions
 * (read on the Edge, checked against its SHA-256, never a share or a copy by hand), and must reach
 * here before its bootstrap account expires: that is checked first, so a file that came too late
 * changes nothing. Then Remove-EdgeSubscription of the old subscription and New-EdgeSubscription
 * -FileData -Site, with both connector flags set explicitly: `keep` re-creates the connectors the old
 * subscription had and no others (the defaults add an Internet connector routed by DNS, which can
 * bypass a smart host). Read back: the subscription must be there. The file is then deleted on the Edge.
 */
export const subscribeEdge = defineAction({
  name: 'subscribe-edge',
  summary: 'Make the Edge subscription again from the file an Edge wrote (Remove-EdgeSubscription, New-EdgeSubscription -FileData -Site).',
  runsOn: 'exchange',
  exchangeCmdlets: ['Get-EdgeSubscription', 'Remove-EdgeSubscription', 'New-EdgeSubscription', 'Get-SendConnector', 'Get-ExchangeServer'],
  changes: true,
  destructive: false,
  fields: {
    server: field.server(),
    edge: field.server(),
    file: field.string('Where the subscription file is, on the Edge.', { required: true }),
    sha256: field.string('Its SHA-256, as the Edge step reported it.', { required: true, pattern: /^[0-9A-Fa-f]{64}$/, patternMessage: 'expected a SHA-256: 64 hexadecimal digits' }),
    expiresAt: field.string('When its bootstrap account expires (ISO 8601), as the Edge step reported it.', { required: true }),
    site: field.string('The Active Directory site to subscribe the Edge to (default: the site of the old subscription, else that of the Mailbox server).'),
    internetSendConnector: field.string('The Send connector to the Internet: keep (as the old subscription had it), create, or none.', { default: 'keep', enum: CONNECTOR_CHOICES }),
    inboundSendConnector: field.string('The Send connector from the Edge into the organisation: keep, create, or none.', { default: 'keep', enum: CONNECTOR_CHOICES }),
  },
  outputs: {
    site: { type: 'string', description: 'The site the Edge is subscribed to.' },
  },
  title: (input) => `Subscribe ${input.describe('edge')} again from its new subscription file`,
  compile: (input) => {
    const server = input.expr('server');
    const edge = input.expr('edge');
    return lines(
      `$edge = ${edge}`,
      `$expires = [DateTime]::Parse(${input.expr('expiresAt')}, [System.Globalization.CultureInfo]::InvariantCulture, [System.Globalization.DateTimeStyles]::RoundtripKind).ToUniversalTime()`,
      "if ([DateTime]::UtcNow.AddMinutes(1) -ge $expires) { throw ('exch-cert: the subscription file of ' + $edge + ' came too late: its bootstrap account expires at ' + $expires.ToString('o') + '. Nothing was changed here; run the renewal again (not --resume): it makes a new file') }",
      `$data = ${hostBlock(edge, [['File', input.expr('file')]], '[Convert]::ToBase64String([System.IO.File]::ReadAllBytes($File))')}`,
      '$bytes = [Convert]::FromBase64String([string]$data)',
      "$sha = [BitConverter]::ToString([System.Security.Cryptography.SHA256]::Create().ComputeHash($bytes)).Replace('-', '')",
      `if ($sha -ne ([string]${input.expr('sha256')}).ToUpperInvariant()) { throw ('exch-cert: the subscription file on ' + $edge + ' is not the one the Edge step wrote (SHA-256 ' + $sha + ')') }`,
      `$old = @(${psExchange('Get-EdgeSubscription')} | Where-Object { ([string]$_.Name) -eq $edge.Split('.')[0] })`,
      "$fromEdge = @(" + psExchange('Get-SendConnector') + " | Where-Object { [string]$_.Name -like 'EdgeSync - *' -and @($_.SourceTransportServers | ForEach-Object { ([string]$_).Split('.')[0] }) -contains $edge.Split('.')[0] })",
      "$decide = { param($Choice, $Pattern) if ($Choice -eq 'create') { return $true }; if ($Choice -eq 'none') { return $false }; if ($old.Count -eq 0) { return $true }; return (@($fromEdge | Where-Object { [string]$_.Name -like $Pattern }).Count -gt 0) }",
      `$internet = [bool](& $decide ${input.expr('internetSendConnector')} 'EdgeSync - * to Internet')`,
      `$inbound = [bool](& $decide ${input.expr('inboundSendConnector')} 'EdgeSync - Inbound to *')`,
      input.has('site')
        ? `$site = ${input.expr('site')}`
        : lines('$site = $null', 'if ($old.Count -gt 0) { $site = [string]$old[0].Site }', `if (-not $site) { $site = [string](${psExchange('Get-ExchangeServer', [['Identity', server]])}).Site }`),
      "Write-Host ('exch-cert: subscribing ' + $edge + ' to ' + $site + '; Internet send connector: ' + $internet + ', inbound send connector: ' + $inbound)",
      `if ($old.Count -gt 0) { ${psExchange('Remove-EdgeSubscription', [['Identity', '$edge'], NO_CONFIRM])} }`,
      psExchange('New-EdgeSubscription', [
        ['FileData', '$bytes'],
        ['Site', '$site'],
        ['CreateInternetSendConnector', '$internet'],
        ['CreateInboundSendConnector', '$inbound'],
        NO_CONFIRM,
      ]),
      `if (-not @(${psExchange('Get-EdgeSubscription')} | Where-Object { ([string]$_.Name) -eq $edge.Split('.')[0] })) { throw ('exch-cert: New-EdgeSubscription reported no error, but there is no subscription for ' + $edge) }`,
      // It holds the bootstrap account's password: gone once it has served.
      `${hostBlock(edge, [['File', input.expr('file')]], '[System.IO.File]::Delete($File)')}`,
      "Set-ExchCertOutput -Name 'site' -Value $site",
    );
  },
});
