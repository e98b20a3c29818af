/**
 * Scripts like the ones admins wrap as powershell steps, written for this
 * project in the styles of CSS-Exchange, Pester, win-acme, Posh-ACME,
 * ExchangeDsc, PSScriptAnalyzer and PowerShell's own build scripts, covering
 * the constructs that the built-in grammar used to reject (issue 11's ten
 * patterns), PowerShell 7-only scripts, and broken variants of the valid ones.
 * Each is judged by both parsers; PowerShell's own verdict is the reference.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPwshParser, type PwshParser } from '../../src/powershell/pwsh-parser.js';
import { checkScriptSyntax, type SyntaxProblem } from '../../src/powershell/syntax.js';
import { parseWithPwsh, pwshPath, type PwshParse } from '../helpers/pwsh.js';

const root = join(import.meta.dirname, '..', 'fixtures', 'powershell-corpus');
const read = (folder: string): Array<[name: string, script: string]> =>
  readdirSync(join(root, folder))
    .sort()
    .map((name) => [name, readFileSync(join(root, folder, name), 'utf8')]);

const VALID = read('valid');
const SEVEN_ONLY = read('seven-only');

/** Each valid script broken twice, after its header comment: a block that is never closed, and an expression cut short. */
const BROKEN: Array<[string, string]> = VALID.flatMap(([name, script]): Array<[string, string]> => {
  const insert = (line: string): string => script.replace(/^(.*\n)/, `$1${line}\n`);
  return [
    [`${name} with an unclosed if`, insert('if ($Server) {')],
    [`${name} with an unclosed (`, insert('$timeout = (30 +')],
  ];
});

/**
 * What PowerShell 7 reports in valid 5.1 scripts that is not syntax, and is
 * left out on purpose: a base class or module that exists where the script
 * runs, workflow (which 7 no longer runs), and the DSC schema store.
 */
const NOT_SYNTAX: Readonly<Record<string, readonly string[]>> = {
  'class-inheritance.ps1': ['TypeNotFound'],
  'workflow-legacy.ps1': ['KeywordParameterReservedForFutureUse', 'WorkflowNotSupportedInPowerShellCore'],
  'dsc-configuration.ps1': ['ParserError', 'UnexpectedToken'],
};

/** `# expect 7-only: LINE TOKEN` lines: where each 7-only construct is, and what it starts with. */
function expectedSevenOnly(script: string): string[] {
  return [...script.matchAll(/^# expect 7-only: (\d+) (\S+)$/gm)].map((match) => `${match[1]} ${match[2]}`);
}

/** The 7-only findings as `LINE TOKEN`, the token read at the reported column. */
function sevenOnlyFound(script: string, problems: readonly SyntaxProblem[]): string[] {
  const lines = script.split('\n');
  return problems
    .filter((problem) => problem.kind === 'powershell-7-only')
    .map((problem) => {
      const rest = (lines[problem.line - 1] ?? '').slice(problem.column - 1);
      const token = expectedSevenOnly(script).find((entry) => entry.startsWith(`${problem.line} `) && rest.startsWith(entry.slice(entry.indexOf(' ') + 1)));
      return token ?? `${problem.line} ${rest.slice(0, 12)}`;
    });
}

const errorsOf = (problems: readonly SyntaxProblem[]): string[] =>
  problems.filter((problem) => problem.kind === 'syntax' || problem.kind === 'powershell-7-only' || problem.kind === 'internals').map((p) => `${p.line}:${p.column} ${p.message}`);

it('has a corpus of a few dozen scripts', () => {
  expect(VALID.length).toBeGreaterThanOrEqual(25);
  expect(SEVEN_ONLY.length).toBeGreaterThanOrEqual(9);
  expect(BROKEN.length).toBe(VALID.length * 2);
});

describe('the built-in checker on the corpus', () => {
  it.each(VALID)('raises no error on valid %s', async (_name, script) => {
    expect(errorsOf(await checkScriptSyntax(script))).toEqual([]);
  });

  it.each(SEVEN_ONLY)('finds each PowerShell 7-only construct in %s, and no syntax error', async (_name, script) => {
    const problems = await checkScriptSyntax(script);
    expect(sevenOnlyFound(script, problems)).toEqual(expectedSevenOnly(script));
    expect(problems.filter((problem) => problem.kind === 'syntax')).toEqual([]);
  });

  it.each(BROKEN)('catches %s', async (_name, script) => {
    expect((await checkScriptSyntax(script)).filter((problem) => problem.kind === 'syntax')).not.toEqual([]);
  });
});

describe.skipIf(!pwshPath)("PowerShell's own parser (pwsh-parser.ts) on the corpus, against PowerShell's verdicts", () => {
  const all = [...VALID, ...SEVEN_ONLY, ...BROKEN];
  let parser: PwshParser;
  let ours = new Map<string, SyntaxProblem[]>();
  let reference = new Map<string, PwshParse>();
  beforeAll(async () => {
    parser = await startPwshParser(pwshPath!);
    const [parsed, judged] = await Promise.all([parseWithPwsh(all.map(([, script]) => script)), Promise.all(all.map(([, script]) => parser.parse(script)))]);
    reference = new Map(all.map(([name], index) => [name, parsed[index]!]));
    ours = new Map(all.map(([name], index) => [name, judged[index]!]));
  }, 180_000);
  afterAll(async () => {
    await parser.close();
  });

  const syntaxErrors = (name: string): string[] =>
    ours
      .get(name)!
      .filter((p) => p.kind === 'syntax')
      .map((p) => `${p.line}:${p.column}`)
      .sort();
  const powershellErrors = (name: string): string[] =>
    reference
      .get(name)!
      .errors.filter((error) => !(NOT_SYNTAX[name] ?? []).includes(error.errorId))
      .map((error) => `${error.line}:${error.column}`)
      .sort();

  it.each([...VALID, ...BROKEN])('has the verdict PowerShell has on %s, at the same places', (name) => {
    // Broken variants of those scripts: PowerShell's echoes of the lookup errors cannot be told apart, so the verdict only.
    if (name.includes(' ') && NOT_SYNTAX[name.split(' ')[0] ?? ''] !== undefined) expect(syntaxErrors(name)).not.toEqual([]);
    else expect(syntaxErrors(name)).toEqual(powershellErrors(name));
  });

  it.each(VALID)('raises no error on valid %s', (name) => {
    expect(errorsOf(ours.get(name)!)).toEqual([]);
  });

  it('leaves out only what is not syntax, and only where PowerShell reports it', () => {
    for (const [name, ids] of Object.entries(NOT_SYNTAX)) {
      const reported = [...new Set(reference.get(name)!.errors.map((error) => error.errorId))].sort();
      expect(reported, name).toEqual([...ids].sort());
    }
  });

  it.each(SEVEN_ONLY)('finds each PowerShell 7-only construct in %s, which PowerShell 7 parses', (name, script) => {
    expect(reference.get(name)!.errors).toEqual([]);
    expect(sevenOnlyFound(script, ours.get(name)!)).toEqual(expectedSevenOnly(script));
    expect(syntaxErrors(name)).toEqual([]);
  });

  it.each(BROKEN)('PowerShell rejects %s', (name) => {
    expect(reference.get(name)!.errors).not.toEqual([]);
  });
});
