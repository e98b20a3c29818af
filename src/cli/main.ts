import { Command, CommanderError, Option } from 'commander';
import { ExitCode, RunbookError, UserError } from '../errors.js';
import { LINT_FORMATS, LINT_PARSERS } from '../lint/format.js';
import { VERSION } from '../version.js';
import { detectTerminal, type CliIo } from './terminal.js';

const EXIT_CODES_HELP = `
Exit codes:
  0    ok
  1    lint found errors (or warnings with --strict), or a step failed
  2    usage error, or an invalid runbook or input
  3    PowerShell or connection failure
  5    confirmation required but not given
  70   internal error (a bug in exch-cert; please report it with the output)
  130  interrupted (Ctrl-C)
`;

const collect = (value: string, previous: string[]): string[] => [...previous, value];

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
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(terminal.color.red(text)),
    });

  let exitCode: number = ExitCode.ok;

  const addRunOptions = (command: Command): Command =>
    command
      .option('--var <KEY=VALUE>', 'set a runbook param (repeatable)', collect, [])
      .option('--dry-run', 'print the PowerShell the run would send, and change nothing')
      .option('--output <FILE.ps1>', 'with --dry-run: write the script to a .ps1 file (UTF-8 with BOM, CRLF) instead of stdout')
      .option('--json', 'print the plan (or, when running, events) as JSON on stdout')
      .option('--connect <MODE>', 'how to reach Exchange: remote (default; http://SERVER/PowerShell/), local (Exchange Management Shell on this server), or module:PATH')
      .option('--credential-env <USER_VAR,PASS_VAR>', 'with --connect remote: read an explicit account from these environment variables')
      .option('--shell <SHELL>', 'powershell (Windows PowerShell 5.1, the default on Windows), pwsh, or a path')
      .option('--simulate [STATE.json]', 'run against the simulated Exchange server (a default one is created when STATE is not given)')
      .option('-y, --yes', 'answer yes to confirmations (needed without a terminal)')
      .option('--journal-dir <DIR>', 'where run journals go', '.exch-cert/runs')
      .option('--resume <RUN_ID>', 'continue an interrupted or failed run: skip the steps that finished')
      .option('--force', 'with --resume: resume even though the runbook or params changed')
      .option('--verbose', 'show what each step printed');

  addRunOptions(
    program
      .command('renew')
      .description('Renew the certificate of a Mailbox server with runbooks/renew-certificate.yaml (or --runbook).')
      .requiredOption('--server <NAME>', 'Exchange server to change')
      .option('--pfx <PATH>', 'the new certificate (PFX); needs no file for a dry run')
      .option('--fqdn <NAME>', 'name clients use for POP/IMAP, e.g. mail.contoso.com')
      .option('--friendly-name <TEXT>', 'friendly name for the new certificate')
      .option('--services <LIST>', 'services to enable, e.g. IIS,SMTP,POP,IMAP')
      .option('--runbook <FILE>', 'use another runbook with the same params'),
  ).action(async (options: Record<string, unknown>) => {
    const { renewCommand } = await import('./commands/run.js');
    exitCode = await renewCommand(options, io, terminal);
  });

  addRunOptions(
    program
      .command('run')
      .description('Run a runbook step by step.')
      .argument('<RUNBOOK>', 'runbook file')
      .option('--server <NAME>', 'Exchange server (sets the runbook param server when it has one)'),
  ).action(async (runbookFile: string, options: Record<string, unknown>) => {
    const { runCommand } = await import('./commands/run.js');
    exitCode = await runCommand(runbookFile, options, io, terminal);
  });

  addRunOptions(
    program
      .command('plan')
      .description('Print the PowerShell a run would send (same as run --dry-run).')
      .argument('<RUNBOOK>', 'runbook file')
      .option('--server <NAME>', 'Exchange server (sets the runbook param server when it has one)'),
  ).action(async (runbookFile: string, options: Record<string, unknown>) => {
    const { runCommand } = await import('./commands/run.js');
    exitCode = await runCommand(runbookFile, { ...options, dryRun: true }, io, terminal);
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
    .command('simulator')
    .description('Rehearse with the simulated Exchange server.')
    .command('init')
    .description('Create a simulated Exchange server and a renewed certificate (PFX protected with EXCH_CERT_PFX_PASSWORD) to rehearse with.')
    .option('--dir <DIR>', 'where to put them (default .exch-cert/simulator)')
    .option('--server <NAME>', 'server name', 'EXCH01')
    .option('--fqdn <NAME>', 'name of the renewed certificate', 'mail.contoso.com')
    .option('--wildcard', 'make the renewed certificate a wildcard (*.domain)')
    .option('--shell <SHELL>', 'PowerShell 7 to use (pwsh or a path)')
    .action(async (options: { dir?: string; server: string; fqdn: string; wildcard?: boolean; shell?: string }) => {
      const { simulatorInitCommand } = await import('./commands/simulator.js');
      exitCode = await simulatorInitCommand(options, io, terminal);
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
    return reportError(error, io, terminal);
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
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  io.stderr.write(`${color.red.bold('exch-cert: internal error (this is a bug in exch-cert; please report it with this output):')}\n${detail}\n`);
  return ExitCode.internal;
}
