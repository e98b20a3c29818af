import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ExitCode, RunbookError, UserError } from '../errors.js';
import { LINT_FORMATS, LINT_PARSERS } from '../lint/format.js';
import { EXCHANGE_VERSIONS, WINDOWS_VERSIONS } from '../certificate/versions.js';
import type { InspectOptions } from './commands/inspect.js';
import { VERSION } from '../version.js';
import { packageRoot } from './package-root.js';
import { sourceMappedStack } from './source-stack.js';
import { escapeBlock } from '../text/untrusted.js';
import { detectTerminal, type CliIo } from './terminal.js';
import { addFleetOptions } from './fleet/options.js';

const EXIT_CODES_HELP = `
Exit codes:
  0    ok
  1    lint found errors (or warnings with --strict), inspect found problems, a step failed
       and the server is as before (or the rollback restored it), or (verify-tls) an endpoint
       serves another or an invalid certificate
  2    usage error, an invalid runbook or input, or a PFX that cannot be read
  3    PowerShell or connection failure, or (verify-tls) an endpoint cannot be reached
  4    a step failed and the server is left changed (a rollback step failed, or none could undo it)
  5    confirmation required but not given
  70   internal error (a bug in exch-cert; please report it with the output)
  130  interrupted (Ctrl-C)
  status answers as a monitoring plugin instead: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
`;

const VERIFY_TLS_HELP = `
Exit codes:
  0    every endpoint serves the expected certificate (without --expect/--pfx: a valid one)
  1    one serves another, or one clients refuse (expired, wrong name, untrusted, no intermediates)
  2    usage error
  3    one cannot be checked (refused, timed out, no STARTTLS, handshake failed)
Trust is Node's list of public CAs; for a private CA set NODE_EXTRA_CA_CERTS to its root (PEM).
`;

const PLUGIN_EXIT_CODES_HELP = `
Exit codes (Nagios/Icinga plugin): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (an endpoint
cannot be reached, or the arguments are wrong); the worst endpoint decides
(CRITICAL > WARNING > UNKNOWN > OK).
`;

/** A command-line error of `status`: a monitoring plugin answers UNKNOWN (3), not 2, which would read as CRITICAL. */
class PluginUsageError extends Error {}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** A flag that takes one value: given twice with different values, it is an error, not a silent choice. */
const once =
  (flag: string) =>
  (value: string, previous: unknown): string => {
    if (typeof previous === 'string' && previous !== value) throw new InvalidArgumentError(`${flag} is given twice (${JSON.stringify(previous)} and ${JSON.stringify(value)}); give it once`);
    return value;
  };

const SECRETS_HELP = `
Secrets are read from the environment variables the runbook names (never from the command line).
On a terminal, a secret that is not set is asked for, hidden; in CI or without a terminal it is an error.
`;

const RENEW_HELP = `
Secrets (environment variables; never on the command line):
  EXCH_CERT_PFX_PASSWORD     the password of the new PFX (--pfx)
  EXCH_CERT_BACKUP_PASSWORD  protects the backup of the old certificate (in --backup-dir)
On a terminal, one that is not set is asked for, hidden; in CI or without a terminal it is an error.

Examples:
  exch-cert renew --server EXCH01 --pfx 'C:\\certs\\mail-2026.pfx' --fqdn mail.contoso.com --dry-run
  exch-cert renew --server EXCH01 --pfx 'C:\\certs\\mail-2026.pfx' --fqdn mail.contoso.com
  exch-cert runs                              # the runs so far, and which can be resumed
  exch-cert renew --resume 20261126T064800Z-ab12cd
`;

/**
 * Parses the command line, runs one command and returns the exit code.
 * Every known error becomes one line with a hint; only bugs show a stack.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const terminal = detectTerminal(io);
  const program = new Command('exch-cert')
    .description('Renew Exchange Server certificates from reviewed YAML runbooks, step by step, through PowerShell.')
    .version(VERSION, '-V, --version')
    .addHelpText('after', EXIT_CODES_HELP)
    .showHelpAfterError('(run with --help for usage)')
    // `runs prune --journal-dir D`: the subcommand's own flags go to the subcommand.
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(terminal.color.red(text)),
    });

  let exitCode: number = ExitCode.ok;

  /** What a plan is made of: the runbook's params, the connection, and where the dry run goes. */
  const addPlanOptions = (command: Command, force: string): Command =>
    command
      .option('--var <KEY=VALUE>', 'set a runbook param (repeatable)', collect, [])
      .option('--output <FILE.ps1>', 'write the dry-run script to a .ps1 file (UTF-8 with BOM, CRLF) instead of stdout', once('--output'))
      .option('--json', 'print the plan (or, when running, events) as JSON on stdout')
      .option('--connect <MODE>', 'how to reach Exchange: remote (default; http://SERVER/PowerShell/), local (Exchange Management Shell on this server), or module:PATH', once('--connect'))
      .option('--credential-env <USER_VAR,PASS_VAR>', 'with --connect remote: read an explicit account from these environment variables', once('--credential-env'))
      // Test-only: how the test suite reaches the simulator over real PowerShell remoting (README, Development).
      .addOption(new Option('--remote-session-module <PATH>', 'with --connect remote: a module whose New-ExchCertExchangeSession/New-ExchCertHostSession open the sessions').hideHelp())
      .option('--simulate [STATE.json]', 'run against the simulated Exchange server (a default one is created when STATE is not given)', once('--simulate'))
      .option('--force', force);

  /** A plan's options, and what running it takes: a shell, confirmations, a journal, --resume. */
  const addRunOptions = (command: Command): Command =>
    addPlanOptions(
      command.option('--dry-run', 'print the PowerShell the run would send, and change nothing'),
      'override a refusal you have checked: replace an existing --output file, take over a stale server lock, or --resume although the runbook or params changed',
    )
      .option('--shell <SHELL>', 'powershell (Windows PowerShell 5.1, the default on Windows), pwsh, or a path', once('--shell'))
      .option('-y, --yes', 'answer yes to confirmations (needed without a terminal)')
      .option('--journal-dir <DIR>', 'where run journals go (default .exch-cert/runs)', once('--journal-dir'))
      .option('--resume <RUN_ID>', 'continue an interrupted or failed run: skip the steps that finished; the runbook, params and connection come from its journal', once('--resume'))
      .option('--verbose', 'show everything each step printed');

  addFleetOptions(addRunOptions(
    program
      .command('renew')
      .description('Renew the certificate of a Mailbox server with runbooks/renew-certificate.yaml (or --runbook); of several, one after the other.')
      .option('--server <NAME[,NAME...]>', 'Exchange server to change (required); several: the first is the canary', once('--server'))
      .option('--pfx <PATH>', 'the new certificate (PFX) on this machine (required); a dry run does not read it', once('--pfx'))
      .option('--fqdn <NAME>', 'name clients use for POP/IMAP, e.g. mail.contoso.com (required)', once('--fqdn'))
      .option('--friendly-name <TEXT>', 'friendly name for the new certificate', once('--friendly-name'))
      .option('--services <LIST>', 'services to enable (default IIS,SMTP,POP,IMAP; any case)', once('--services'))
      .option('--backup-dir <DIR>', 'folder on this machine (where exch-cert runs) for the backup of the old certificate, exported before it is removed (default C:\\ExchCertBackup)', once('--backup-dir'))
      .option('--runbook <FILE>', 'use another runbook with the same params', once('--runbook')),
  ))
    .addHelpText('after', RENEW_HELP)
    .action(async (options: Record<string, unknown>) => {
      const { renewCommand } = await import('./commands/run.js');
      exitCode = await renewCommand(options, io, terminal);
    });

  addRunOptions(
    program
      .command('renew-edge')
      .description('Renew the SMTP certificate of an Edge Transport server and re-create its Edge subscription (runbooks/renew-edge-certificate.yaml). --credential-env is the Edge\'s account.')
      .requiredOption('--edge <NAME>', 'the Edge Transport server, reached through PowerShell remoting')
      .requiredOption('--mailbox <NAME>', 'a Mailbox server inside the organisation, where the subscription is made')
      .option('--pfx <PATH>', 'the new certificate (PFX); needs no file for a dry run')
      .option('--fqdn <NAME>', 'a name the certificate must cover: the one the Edge answers SMTP for')
      .option('--site <SITE>', 'Active Directory site to subscribe the Edge to (default: that of the old subscription)')
      .option('--friendly-name <TEXT>', 'friendly name for the new certificate')
      .option('--internet-send-connector <keep|create|none>', 'the EdgeSync Send connector to the Internet (default keep: as the old subscription had it)')
      .option('--inbound-send-connector <keep|create|none>', 'the EdgeSync Send connector into the organisation (default keep)')
      .option('--subscription-minutes <N>', 'lifetime of the subscription file (default 1440)')
      .option('--mailbox-credential-env <USER_VAR,PASS_VAR>', 'an explicit account for the Mailbox server (default: Kerberos, current user)'),
  ).action(async (options: Record<string, unknown>) => {
    const { renewEdgeCommand } = await import('./commands/renew-edge.js');
    exitCode = await renewEdgeCommand(options, io, terminal);
  });

  addRunOptions(
    program
      .command('run')
      .description('Run a runbook step by step.')
      .argument('[RUNBOOK]', 'runbook file (not needed with --resume)')
      .option('--server <NAME>', 'Exchange server (sets the runbook param server when it has one)', once('--server')),
  )
    .addHelpText('after', SECRETS_HELP)
    .action(async (runbookFile: string | undefined, options: Record<string, unknown>) => {
      const { runCommand } = await import('./commands/run.js');
      exitCode = await runCommand(runbookFile, options, io, terminal);
    });

  addPlanOptions(
    program
      .command('plan')
      .description('Print the PowerShell a run would send (same as run --dry-run); changes nothing and needs no secrets.')
      .argument('<RUNBOOK>', 'runbook file')
      .option('--server <NAME>', 'Exchange server (sets the runbook param server when it has one)', once('--server')),
    'replace an existing --output file',
  )
    // A plan is a dry run: saying so again is harmless, so it is accepted, but not offered.
    .addOption(new Option('--dry-run').hideHelp())
    .action(async (runbookFile: string, options: Record<string, unknown>) => {
    const { runCommand } = await import('./commands/run.js');
    exitCode = await runCommand(runbookFile, { ...options, dryRun: true }, io, terminal);
  });

  program
    .command('runs')
    .description('List the runs in the journal folder: id, runbook, server, start, outcome, and whether --resume can continue it.')
    .option('--journal-dir <DIR>', 'the journal folder (default .exch-cert/runs)')
    .option('--json', 'as JSON on stdout')
    .enablePositionalOptions()
    .action(async (options: { journalDir?: string; json?: boolean }) => {
      const { runsCommand } = await import('./commands/runs.js');
      exitCode = runsCommand(options, io, terminal);
    })
    .command('prune')
    .description('Remove the journals of runs that started before a given age (runs still going are kept).')
    .requiredOption('--older-than <AGE>', 'such as 30d, 12h or 90m')
    .option('--journal-dir <DIR>', 'the journal folder (default .exch-cert/runs)')
    .option('--dry-run', 'list what would be removed, and remove nothing')
    .action(async (options: { olderThan: string; journalDir?: string; dryRun?: boolean }) => {
      const { pruneRunsCommand } = await import('./commands/runs.js');
      exitCode = pruneRunsCommand(options, io, terminal, new Date());
    });

  program
    .command('lint')
    .description('Check runbook files: YAML, schema, references and safety rules. For CI.')
    .argument('[PATHS...]', 'files, folders or globs (default: runbooks/)')
    .addOption(new Option('--format <FORMAT>', 'text, json, github or sarif (default: github when GITHUB_ACTIONS=true, else text)').choices(LINT_FORMATS))
    .addOption(
      new Option('--parser <PARSER>', "who judges the scripts of powershell steps: pwsh (PowerShell's own parser), builtin, or auto (pwsh when there is one)")
        .choices(LINT_PARSERS)
        .default('auto'),
    )
    .option('--shell <SHELL>', 'the PowerShell whose parser judges (default: .tools/pwsh, then pwsh on PATH)')
    .option('--strict', 'fail on warnings too')
    .action(async (paths: string[], options: Record<string, unknown>) => {
      const { lintCommand } = await import('./commands/lint.js');
      exitCode = await lintCommand(paths, options, io, terminal);
    });

  program
    .command('inspect')
    .description('Check a PFX offline before a renewal: names, validity, key, chain, protection. Exit 0 fit, 1 problems, 2 unreadable.')
    .argument('<PFX>', 'the PFX (PKCS #12) file')
    .option('--fqdn <NAME>', 'a name clients use; the certificate must cover it (repeatable)', collect, [])
    .option('--password-env <VAR>', 'environment variable that holds the PFX password', 'EXCH_CERT_PFX_PASSWORD')
    .addOption(new Option('--windows <VERSION>', 'Windows Server version of the Exchange server').choices(WINDOWS_VERSIONS))
    .addOption(new Option('--exchange <VERSION>', 'Exchange Server version').choices(EXCHANGE_VERSIONS))
    .option('--services <LIST>', 'services the certificate will be enabled for (default IIS,SMTP,POP,IMAP, as renew)')
    .option('--json', 'print the inspection as JSON on stdout')
    .option('--strict', 'fail on warnings too')
    .action(async (file: string, options: InspectOptions) => {
      const { inspectCommand } = await import('./commands/inspect.js');
      exitCode = await inspectCommand(file, options, io, terminal, new Date());
    });

  program
    .command('simulator')
    .description('Rehearse with the simulated Exchange server.')
    .command('init')
    .description('Create a simulated Exchange server and a renewed certificate (PFX protected with EXCH_CERT_PFX_PASSWORD) to rehearse with.')
    .option('--dir <DIR>', 'where to put them (default .exch-cert/simulator)')
    .option('--server <NAME>', 'server name (default EXCH01)')
    .option('--servers <LIST>', 'several Mailbox servers behind one namespace, e.g. EXCH01,EXCH02')
    .option('--edge <LIST>', 'Edge Transport servers, subscribed to the organisation, e.g. EDGE01')
    .option('--fqdn <NAME>', 'name of the renewed certificate', 'mail.contoso.com')
    .option('--wildcard', 'make the renewed certificate a wildcard for the FQDN\'s domain (--fqdn mail.contoso.com: *.contoso.com)')
    .option('--layout <LIST>', 'what the server has besides a fresh install: seed (POP/IMAP running, as in the field notes), loopback-public, sni, public-internal-transport, non-exportable, require-ssl-off, hybrid-connectors, smtp-namespace')
    .option('--shell <SHELL>', 'PowerShell 7 to use (pwsh or a path)')
    .action(async (options: { dir?: string; server?: string; servers?: string; edge?: string; fqdn: string; wildcard?: boolean; layout?: string; shell?: string }) => {
      const { simulatorInitCommand } = await import('./commands/simulator.js');
      exitCode = await simulatorInitCommand(options, io, terminal);
    });

  program
    .command('verify-tls')
    .description('Check the certificate clients get: a real TLS handshake with each port of HOST (STARTTLS for SMTP and IMAP, STLS for POP3).')
    .argument('<HOST>', 'the name (or address) clients connect to')
    .option('--port <PORT[/PROTO],...>', 'ports, each optionally with tls, smtp, imap or pop3 (default 443,993,995,587,25; without PROTO 25 and 587 are smtp, 143 imap, 110 pop3, others tls)')
    .addOption(new Option('--expect <THUMBPRINT>', 'the SHA-1 thumbprint every endpoint must serve, as Exchange shows it').conflicts('pfx'))
    .option('--pfx <FILE>', 'the certificate every endpoint must serve, from a PFX (password from EXCH_CERT_PFX_PASSWORD)')
    .option('--servername <NAME>', 'SNI and the name the certificate must be valid for (default HOST)')
    .option('--timeout <SECONDS>', 'per endpoint', '10')
    .option('--json', 'print the results as JSON on stdout')
    .addHelpText('after', VERIFY_TLS_HELP)
    .action(async (host: string, options: Record<string, unknown>) => {
      const { verifyTlsCommand } = await import('./commands/verify-tls.js');
      exitCode = await verifyTlsCommand(host, options as { timeout: string }, io, terminal);
    });

  program
    .command('status')
    .description('Monitoring plugin (Nagios/Icinga): days until the certificate of each TARGET expires, with performance data.')
    .argument('[TARGET...]', 'HOST[:PORT[/PROTO]] (port 443 when not given; IPv6 in brackets)')
    .option('--warning <DAYS>', 'WARNING below this many days (default: min(30, a third of the certificate lifetime))')
    .option('--critical <DAYS>', 'CRITICAL below this many days (default: min(14, a sixth of the lifetime))')
    .option('--timeout <SECONDS>', 'per endpoint', '10')
    .option('--json', 'print the judgement as JSON on stdout')
    .option('--server <NAME>', "also judge every certificate this Exchange server uses, read from its store through PowerShell (the runbook server-certificates)")
    .option('--connect <MODE>', 'with --server: remote (default), local or module:PATH, as for run')
    .option('--credential-env <USER_VAR,PASS_VAR>', 'with --server and --connect remote: an explicit account from these environment variables')
    .addOption(new Option('--remote-session-module <PATH>', 'with --connect remote: a module whose New-ExchCertExchangeSession/New-ExchCertHostSession open the sessions').hideHelp())
    .option('--shell <SHELL>', 'with --server: powershell, pwsh, or a path')
    .option('--simulate [STATE.json]', 'with --server: read the simulated Exchange server instead')
    .addHelpText('after', PLUGIN_EXIT_CODES_HELP)
    .exitOverride((error) => {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.help') throw error;
      throw new PluginUsageError(error.message.replace(/^error: /, ''));
    })
    .action(async (targets: string[], options: Record<string, unknown>) => {
      const { statusCommand } = await import('./commands/status.js');
      exitCode = await statusCommand(targets, options as { timeout: string }, io);
    });

  program
    .command('schema')
    .description('Print the JSON Schema of runbooks (a copy is in runbooks/runbook.schema.json).')
    .action(async () => {
      const { schemaCommand } = await import('./commands/schema.js');
      exitCode = schemaCommand(io);
    });

  program
    .command('actions')
    .description('List the actions a step can use, with their fields and outputs.')
    .option('--json', 'as JSON')
    .action(async (options: Record<string, unknown>) => {
      const { actionsCommand } = await import('./commands/actions.js');
      exitCode = actionsCommand(options, io, terminal);
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof PluginUsageError) {
      const { formatPluginFailure, MONITORING_EXIT_CODES } = await import('../tls/expiry.js');
      io.stdout.write(formatPluginFailure(error.message));
      return MONITORING_EXIT_CODES.UNKNOWN;
    }
    const code = reportError(error, io, terminal);
    if (code !== ExitCode.ok && wantsRunEvents(argv)) io.stdout.write(earlyFinish(code, error));
    return code;
  }
}

/** `renew`, `run` and `plan` with --json promise NDJSON whose last event carries the exit code. */
function wantsRunEvents(argv: readonly string[]): boolean {
  const command = argv.find((arg) => !arg.startsWith('-'));
  return (command === 'renew' || command === 'renew-edge' || command === 'run' || command === 'plan') && argv.includes('--json');
}

const EARLY_OUTCOMES: Readonly<Record<number, string>> = { 2: 'invalid', 3: 'environment', 5: 'declined', 70: 'internal', 130: 'interrupted' };

/** The final event for a run that ended before its first step (usage error, missing secret, refused lock...). */
function earlyFinish(exitCode: number, error: unknown): string {
  const message = error instanceof UserError ? error.message : error instanceof CommanderError ? error.message.replace(/^error: /, '') : 'internal error (a bug in exch-cert)';
  return JSON.stringify({ v: 1, ts: new Date().toISOString(), type: 'run-finished', outcome: EARLY_OUTCOMES[exitCode] ?? 'failed', exitCode, message, started: false }) + '\n';
}

/** Paths in a bug's stack trace are shown relative to exch-cert's folder (src/cli/main.ts:12:3). */
function rootForStacks(cwd: string): string {
  try {
    return packageRoot();
  } catch {
    return cwd;
  }
}

function reportError(error: unknown, io: CliIo, terminal: ReturnType<typeof detectTerminal>): number {
  const { color } = terminal;
  if (error instanceof CommanderError) {
    // Commander already printed the message; help and version exit 0.
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return ExitCode.ok;
    return ExitCode.usage;
  }
  if (error instanceof RunbookError) {
    return error.exitCode;
  }
  if (error instanceof UserError) {
    io.stderr.write(`${color.red.bold('exch-cert: error:')} ${error.message.split('\n').join('\n  ')}\n`);
    if (error.hint) io.stderr.write(`  ${color.cyan('hint:')} ${error.hint}\n`);
    return error.exitCode;
  }
  const detail = escapeBlock(error instanceof Error ? sourceMappedStack(error.stack ?? error.message, rootForStacks(io.cwd)) : String(error));
  io.stderr.write(`${color.red.bold('exch-cert: internal error (this is a bug in exch-cert; please report it with this output):')}\n${detail}\n`);
  return ExitCode.internal;
}
