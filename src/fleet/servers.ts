import { SERVER_NAME_PATTERN } from '../actions/fields.js';
import { InputError } from '../errors.js';

/** What Get-ExchangeServer says about the organisation (the outputs of list-exchange-servers). */
export interface Inventory {
  /** The server that was asked. */
  readonly askedOf: string;
  readonly mailbox: readonly string[];
  /** The Mailbox servers' FQDNs, in the same order. */
  readonly mailboxFqdns: readonly string[];
  readonly edge: readonly string[];
}

/** A Mailbox server of the run, as Exchange names it. */
export interface SelectedServer {
  readonly name: string;
  readonly fqdn: string;
}

/** `--server A,B,C`: the names, each a server name, none twice. */
export function parseServerList(text: string): string[] {
  const names = text.split(',').map((name) => name.trim());
  if (names.some((name) => name === '')) throw new InputError(`--server ${JSON.stringify(text)} has an empty name`, 'separate the names with commas: --server EXCH01,EXCH02');
  for (const name of names) {
    if (!SERVER_NAME_PATTERN.test(name)) throw new InputError(`--server: ${JSON.stringify(name)} is not a server name`, 'give NetBIOS names or FQDNs, such as EXCH01 or exch01.contoso.com');
  }
  const seen = new Set<string>();
  for (const name of names) {
    const short = shortName(name);
    if (seen.has(short)) throw new InputError(`--server names ${name} twice`, 'give each server once');
    seen.add(short);
  }
  return names;
}

/**
 * The servers of the run, in order (the first is the canary): those named, each of which must be a
 * Mailbox server of the organisation, and with `all` then every other Mailbox server Exchange
 * lists. Edge Transport servers are never included: they are renewed with renew-edge.
 */
export function selectServers(named: readonly string[], all: boolean, inventory: Inventory): SelectedServer[] {
  const known = inventory.mailbox.map((name, index) => ({ name, fqdn: inventory.mailboxFqdns[index] ?? name }));
  const chosen: SelectedServer[] = [];
  for (const name of named) {
    const found = known.find((server) => shortName(server.name) === shortName(name) || server.fqdn.toLowerCase() === name.toLowerCase());
    if (found) {
      chosen.push(found);
      continue;
    }
    if (inventory.edge.some((edge) => shortName(edge) === shortName(name))) {
      throw new InputError(`${name} is an Edge Transport server; a renewal of the Mailbox servers never includes it`, `renew it with exch-cert renew-edge --edge ${name} --mailbox ${inventory.askedOf}`);
    }
    throw new InputError(
      `${name} is not a Mailbox server of this organisation: Get-ExchangeServer on ${inventory.askedOf} lists ${known.map((server) => server.name).join(', ') || 'none'}${inventory.edge.length > 0 ? ` (Edge Transport: ${inventory.edge.join(', ')})` : ''}; nothing was changed`,
      'check the spelling, or use --all-servers',
    );
  }
  if (all) for (const server of known) if (!chosen.includes(server)) chosen.push(server);
  return chosen;
}

/**
 * With --drain, where each server's queued messages go: the canary's to the next server of the run
 * (still in service while the canary is renewed), every other server's to the canary (renewed and
 * back in service by then). A run of one server sends them to another Mailbox server.
 */
export function redirectTargets(servers: readonly SelectedServer[], inventory: Inventory): Map<string, string> {
  const [canary, second] = servers;
  const targets = new Map<string, string>();
  if (!canary) return targets;
  const other = second ?? inventory.mailbox.map((name, index) => ({ name, fqdn: inventory.mailboxFqdns[index] ?? name })).find((server) => shortName(server.name) !== shortName(canary.name));
  if (!other) throw new InputError(`--drain needs another Mailbox server to take the messages queued on ${canary.name}, and the organisation has none`, 'renew without --drain');
  targets.set(canary.name, other.name);
  for (const server of servers.slice(1)) targets.set(server.name, canary.name);
  return targets;
}

function shortName(name: string): string {
  return (name.split('.')[0] ?? name).toLowerCase();
}
