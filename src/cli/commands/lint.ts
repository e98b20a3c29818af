import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { glob, isDynamicPattern } from 'tinyglobby';
import { ExitCode, InputError } from '../../errors.js';
import { escapeControlCharacters } from '../../text/control-characters.js';
import { formatGithub, formatJson, formatText, summarize, type LintFormat, type LintParser } from '../../lint/format.js';
import { RULE_DESCRIPTIONS } from '../../lint/index.js';
import { lintFiles, type LintResult } from '../../lint/lint-files.js';
import { formatSarif } from '../../lint/sarif.js';
import { createBuiltinChecker, createPwshChecker, type ParserInfo, type ScriptChecker } from '../../lint/scripts.js';
import { findPwsh } from '../shell.js';
import { displayPath } from '../load-plan.js';
import type { CliIo, Terminal } from '../terminal.js';

interface LintOptions {
  readonly format?: LintFormat;
  readonly strict?: boolean;
  readonly parser?: LintParser;
  readonly shell?: string;
}

const RUNBOOK_GLOB = '**/*.{yaml,yml}';

/** `exch-cert lint`: every problem in every file; exit 1 on errors (or warnings with --strict). */
export async function lintCommand(paths: readonly string[], options: LintOptions, io: CliIo, terminal: Terminal): Promise<number> {
  const format: LintFormat = options.format ?? (io.env['GITHUB_ACTIONS'] === 'true' ? 'github' : 'text');
  const files = paths.length > 0 ? await expandPaths(paths, io.cwd) : await defaultFiles(io.cwd);
  const targets = files.map((path) => ({ path, display: displayPath(path, io.cwd) }));
  const scripts = chooseScriptChecker(options.parser ?? 'auto', options.shell, io.env);
  let result: LintResult;
  try {
    result = await lintFiles(targets, scripts);
  } finally {
    await scripts.close();
  }
  const { diagnostics, counts, sources } = result;
  const parser = scripts.judge();
  const report = { files: files.length, counts, parser };
  if (format === 'json') io.stdout.write(formatJson(diagnostics, report) + '\n');
  else if (format === 'sarif') io.stdout.write(formatSarif(diagnostics, report, RULE_DESCRIPTIONS) + '\n');
  else if (diagnostics.length > 0) io.stdout.write((format === 'github' ? formatGithub(diagnostics) : formatText(diagnostics, new Map(sources), terminal.color)) + '\n');
  io.stderr.write(`exch-cert lint: ${summarize(counts, files.length)}${parser ? `; scripts judged by ${describeParser(parser, io.cwd)}` : ''}\n`);
  const failing = counts.errors > 0 || (options.strict === true && counts.warnings > 0);
  return failing ? ExitCode.failed : ExitCode.ok;
}

/** `--parser`: pwsh needs a PowerShell; auto uses one when there is one. */
function chooseScriptChecker(parser: LintParser, shell: string | undefined, env: CliIo['env']): ScriptChecker {
  if (parser === 'builtin') return createBuiltinChecker();
  const executable = findPwsh(shell, env);
  if (parser === 'pwsh') return createPwshChecker(executable ?? 'pwsh', { fallback: false });
  if (executable === undefined) return createBuiltinChecker('no PowerShell found (--shell, .tools/pwsh, pwsh on PATH)');
  return createPwshChecker(executable, { fallback: true });
}

function describeParser(parser: ParserInfo, cwd: string): string {
  if (parser.name === 'pwsh') return `PowerShell ${parser.version ?? ''}'s parser (${displayPath(parser.path ?? 'pwsh', cwd)})`.replace(' \'s', "'s");
  return `the built-in checker${parser.reason ? ` (${escapeControlCharacters(parser.reason)})` : ''}`;
}

/** With no path: the runbooks/ folder of the project lint runs in. */
async function defaultFiles(cwd: string): Promise<string[]> {
  const info = await stat(resolve(cwd, 'runbooks')).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new InputError(`no runbooks/ folder in ${cwd}: with no path, exch-cert lint checks runbooks/**/*.yaml and *.yml`, 'pass files, folders or globs, e.g. exch-cert lint my-runbook.yaml');
  }
  return expandPaths(['runbooks'], cwd);
}

/**
 * Files, folders (every .yaml/.yml below) and globs, in a stable order. A
 * path that does not exist is a usage error (exit 2), like a glob that
 * matches nothing.
 */
async function expandPaths(paths: readonly string[], cwd: string): Promise<string[]> {
  const found = new Set<string>();
  for (const path of paths) {
    if (isDynamicPattern(path)) {
      const matches = await glob(path, { cwd, absolute: true, onlyFiles: true, dot: false });
      if (matches.length === 0) throw new InputError(`no runbook files match ${JSON.stringify(path)}`);
      for (const match of matches.sort()) found.add(match);
      continue;
    }
    const absolute = resolve(cwd, path);
    const info = await stat(absolute).catch(() => undefined);
    if (info?.isDirectory()) {
      const matches = await glob(RUNBOOK_GLOB, { cwd: absolute, absolute: true, onlyFiles: true });
      if (matches.length === 0) throw new InputError(`no .yaml or .yml files in ${JSON.stringify(path)}`);
      for (const match of matches.sort()) found.add(match);
    } else if (info === undefined) {
      throw new InputError(`no such file or folder: ${JSON.stringify(path)}`, 'check the path; globs such as "runbooks/*.yaml" work too');
    } else {
      found.add(absolute);
    }
  }
  return [...found];
}
