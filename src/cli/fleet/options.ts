import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { isFleetJournal } from '../../fleet/journal.js';
import { DEFAULT_JOURNAL_DIR } from '../journal-dir.js';

/** The flags of `renew` for several servers. */
export interface FleetFlags {
  readonly server?: string;
  readonly allServers?: boolean;
  readonly maxParallel?: string;
  readonly drain?: boolean;
  readonly queueTimeout?: string;
  readonly verifyPorts?: string;
  /** Test-only (hidden): NAME=HOST:PORT, where a server's port 443 is reached. */
  readonly tlsAddress?: string[];
  readonly resume?: string;
  readonly journalDir?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Adds the fleet flags to `renew`. */
export function addFleetOptions(command: Command): Command {
  return command
    .option('--all-servers', 'every Mailbox server of the organisation (Get-ExchangeServer, asked of the first --server; never Edge servers)')
    .option('--max-parallel <N>', 'with several servers: how many to renew at once after the canary', '1')
    .option('--drain', 'maintenance mode around the restarts: drain transport, redirect its messages, wait for the queues, ServerWideOffline; and back')
    .option('--queue-timeout <SECONDS>', 'with --drain: how long to wait for the queues to empty', '600')
    .option('--verify-ports <LIST>', "with several servers: the ports checked on each server's own name, e.g. 443,993,995,587/smtp", '443')
    // Test-only: the simulated organisation serves no TLS, so tests point a server's 443 at a loopback server.
    .addOption(new Option('--tls-address <NAME=HOST:PORT>', 'where the TLS check reaches port 443 of a server').argParser(collect).default([]).hideHelp());
}

/** Whether `renew` is a fleet run: several servers, --all-servers, --drain, or --resume of a fleet run. */
export function isFleetRun(options: FleetFlags, cwd: string): boolean {
  if ((options.server ?? '').includes(',') || options.allServers === true || options.drain === true) return true;
  return options.resume !== undefined && isFleetJournal(resolve(cwd, options.journalDir ?? DEFAULT_JOURNAL_DIR), options.resume);
}
