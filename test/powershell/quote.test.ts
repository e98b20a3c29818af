import fc from 'fast-check';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { Language, Parser, Query } from 'web-tree-sitter';
import { psBoolean, psLiteral, psNumber, psString, psStringArray } from '../../src/powershell/quote.js';
import { checkScriptSyntax } from '../../src/powershell/syntax.js';
import { loadHostileValues } from '../helpers/hostile.js';
import { evaluateWithPwsh, parseWithPwsh, pwshPath, type PwshParse } from '../helpers/pwsh.js';

/**
 * Units that matter to PowerShell's tokenizer, mixed with arbitrary code
 * points and lone surrogates. NUL is in: PowerShell's parser keeps it inside a
 * single-quoted string (checked below). Lone surrogates are in too: the parser
 * keeps them, and parseWithPwsh moves text as UTF-16 code units, so they compare
 * exactly (only UTF-8, as on the engine's wire, could not carry them).
 */
const SPECIAL_UNITS = [
  "'", '\u2018', '\u2019', '\u201A', '\u201B', '"', '\u201C', '\u201D', '\u201E', '$', '`', ';', '|', '&', '(', ')', '{', '}', '@', '#',
  '<#', '#>', '\r', '\n', '\r\n', '\0', '\u2013', '\u2014', '\u2015', '-', ',', '=', ':', '.', '[', ']', '*', '?', '%', ' ', '\t',
  '\u00A0', '\u2028', '\u0085', '$(', '${', '@(', "@'", "'@", '--%', 'Stop-Computer', '-Force', '$env:PATH',
];
const unit = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SPECIAL_UNITS) },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)) },
);
const hostileString = fc.oneof({ weight: 19, arbitrary: fc.string({ unit, maxLength: 40 }) }, { weight: 1, arbitrary: fc.string({ unit, minLength: 500, maxLength: 2000 }) });
/** Where the tree-sitter grammar is reliable: printable ASCII and tabs (values with line breaks become several literals, checked with pwsh). */
const asciiString = fc.string({ unit: fc.oneof(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }), fc.constantFrom('\t', "'")), maxLength: 60 });

const SEED = 20_260_126;

/** psString's literal without the parentheses it puts around `--%`. */
const unparenthesized = (literal: string): string => literal.replace(/^\((.*)\)$/s, '$1');
const hasLineBreak = (value: string): boolean => /[\r\n]/.test(value);
/** The single-line pieces psString builds a value with line breaks from: the first always, then every non-empty one. */
const pieces = (value: string): string[] => value.split(/[\r\n]/).filter((piece, index) => index === 0 || piece !== '');
const doubled = (text: string): string => `'${text.replace(/['\u2018-\u201B]/g, (mark) => mark + mark)}'`;
const hostile = loadHostileValues();
const sampled = fc.sample(hostileString, { numRuns: 300, seed: SEED });
const values = [...hostile, ...sampled];

describe('psString', () => {
  it('doubles each of the five single quotes and nothing else', () => {
    expect(psString('')).toBe("''");
    expect(psString("it's")).toBe("'it''s'");
    expect(psString('‘’‚‛')).toBe("'‘‘’’‚‚‛‛'");
    expect(psString('"$(x)" `n #')).toBe(`'"$(x)" \`n #'`);
    fc.assert(
      fc.property(fc.string({ unit }), (value) => {
        fc.pre(!hasLineBreak(value));
        const literal = unparenthesized(psString(value));
        expect(literal.startsWith("'") && literal.endsWith("'")).toBe(true);
        // Removing one of each doubled quote gives the value back.
        expect(literal.slice(1, -1).replace(/(['\u2018-\u201B])\1/g, '$1')).toBe(value);
      }),
      { seed: SEED },
    );
  });

  it('builds a value with line breaks from single-line pieces, so no literal spans lines', () => {
    expect(psString('a\nb')).toBe("('a' + [char]10 + 'b')");
    expect(psString("\r\nit's\n")).toBe("('' + [char]13 + [char]10 + 'it''s' + [char]10)");
    fc.assert(
      fc.property(fc.string({ unit }), (value) => {
        expect(hasLineBreak(psString(value))).toBe(false);
      }),
      { seed: SEED },
    );
  });

  it('parenthesizes --%, which PowerShell reads as the stop-parsing token even in quotes', () => {
    expect(psString('--%')).toBe("('--%')");
    expect(psString('--% ')).toBe("'--% '");
  });

  it('gives scripts our syntax checker accepts, whatever the value', async () => {
    for (const value of values) {
      expect(await checkScriptSyntax(`Write-Output ${psString(value)}`), JSON.stringify(value)).toEqual([]);
      expect(await checkScriptSyntax(`Set-Thing -Name ${psString(value)} -Other 'x'`), JSON.stringify(value)).toEqual([]);
    }
  });
});

describe('psStringArray, psBoolean, psNumber, psLiteral', () => {
  it('builds arrays in the @() form only', () => {
    expect(psStringArray([])).toBe('@()');
    expect(psStringArray(['IIS', 'SMTP'])).toBe("@('IIS','SMTP')");
    expect(psStringArray(["a'b", 'c,d'])).toBe("@('a''b','c,d')");
  });

  it('writes booleans as variables', () => {
    expect(psBoolean(true)).toBe('$true');
    expect(psBoolean(false)).toBe('$false');
  });

  it('writes finite numbers and refuses the rest', () => {
    expect(psNumber(0)).toBe('0');
    expect(psNumber(-0)).toBe('0');
    expect(psNumber(443)).toBe('443');
    expect(psNumber(-7)).toBe('(-7)');
    expect(psNumber(1.5)).toBe('1.5');
    expect(psNumber(1e-7)).toBe('1e-7');
    expect(psNumber(2 ** 53)).toBe('9007199254740992');
    expect(psNumber(1e21)).toBe('1e+21');
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) expect(() => psNumber(bad)).toThrow(RangeError);
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) => {
        expect(Number(psNumber(value).replace(/^\((.*)\)$/, '$1'))).toBe(value === 0 ? 0 : value);
      }),
      { seed: SEED },
    );
  });

  it('dispatches psLiteral on the type', () => {
    expect(psLiteral(null)).toBe('$null');
    expect(psLiteral('a')).toBe("'a'");
    expect(psLiteral(5)).toBe('5');
    expect(psLiteral(false)).toBe('$false');
    expect(psLiteral(['a'])).toBe("@('a')");
  });
});

/** A script and what PowerShell's AST must hold for it: nothing more, nothing less. */
interface LiteralCase {
  readonly script: string;
  /** Every string constant in order (the command name is one): value and source text. */
  readonly strings: ReadonlyArray<readonly [value: string, text: string]>;
  /** Where the first literal after the command name starts. */
  readonly at?: { readonly line: number; readonly column: number };
  readonly commands: readonly string[];
  readonly variables: readonly string[];
}

const word = (text: string): readonly [string, string] => [text, text];
const quoted = (value: string): readonly [string, string] => [value, unparenthesized(psString(value))];
/** The string constants PowerShell sees for psString(value): one, or the pieces of a value with line breaks. */
const constants = (value: string): ReadonlyArray<readonly [string, string]> => (hasLineBreak(value) ? pieces(value).map((piece) => [piece, doubled(piece)] as const) : [quoted(value)]);

/** Line 1, at the first quote after the prefix (past `@(` or `(`). */
function firstLiteral(prefix: string, literal: string, strings: LiteralCase['strings']): LiteralCase['at'] {
  return strings.length > 0 ? { line: 1, column: prefix.length + literal.indexOf("'") + 1 } : undefined;
}

function writeOutput(literal: string, strings: LiteralCase['strings'], variables: readonly string[] = []): LiteralCase {
  const prefix = 'Write-Output ';
  return { script: prefix + literal, strings: [word('Write-Output'), ...strings], at: firstLiteral(prefix, literal, strings), commands: ['Write-Output'], variables };
}

function setThing(parameter: string, literal: string, strings: LiteralCase['strings']): LiteralCase {
  const prefix = `Set-Thing -${parameter} `;
  return { script: `${prefix}${literal} -Other 'x'`, strings: [word('Set-Thing'), ...strings, quoted('x')], at: firstLiteral(prefix, literal, strings), commands: ['Set-Thing'], variables: [] };
}

/** What differs between the AST PowerShell built and the one we meant. */
function differences(parse: PwshParse, expected: LiteralCase): string[] {
  const found: string[] = [];
  if (parse.errors.length > 0) found.push(`parse errors ${JSON.stringify(parse.errors)}`);
  const strings = parse.stringConstants.map((string) => [string.value, string.extentText]);
  if (JSON.stringify(strings) !== JSON.stringify(expected.strings)) found.push(`string constants ${JSON.stringify(strings)}`);
  const first = parse.stringConstants[1];
  if (expected.at && (first?.line !== expected.at.line || first.column !== expected.at.column)) found.push(`first literal at ${first?.line}:${first?.column}`);
  if (JSON.stringify(parse.commands) !== JSON.stringify(expected.commands)) found.push(`commands ${JSON.stringify(parse.commands)}`);
  if (JSON.stringify(parse.variables) !== JSON.stringify(expected.variables)) found.push(`variables ${JSON.stringify(parse.variables)}`);
  return found;
}

/** An empty group, then groups of 1 to 4 values, for arrays. */
function groups(list: readonly string[]): string[][] {
  const result: string[][] = [[]];
  for (let start = 0, size = 1; start < list.length; start += size, size = (size % 4) + 1) result.push(list.slice(start, start + size));
  return result;
}

const NUMBERS = [0, -0, 1, -1, 443, -7, 1.5, -2.25, 1e-7, 5e-324, 2 ** 53, -(2 ** 53), 1e21, Number.MAX_VALUE, -Number.MAX_VALUE, ...fc.sample(fc.double({ noNaN: true, noDefaultInfinity: true }), { numRuns: 40, seed: SEED })];

const scalarCases = values.flatMap((value) => [writeOutput(psString(value), constants(value)), setThing('Name', psString(value), constants(value))]);
/** Two values on one command line, so that one cannot change how the other parses (`--%` could). */
const pairCases = [['--%', 'x | Stop-Computer #'] as const, ...hostile.map((value, index) => [value, hostile[(index + 1) % hostile.length]!] as const)].map(
  ([first, second]): LiteralCase => ({
    script: `Set-Thing -Name ${psString(first)} -Other ${psString(second)}`,
    strings: [word('Set-Thing'), ...constants(first), ...constants(second)],
    at: firstLiteral('Set-Thing -Name ', psString(first), constants(first)),
    commands: ['Set-Thing'],
    variables: [],
  }),
);
const arrayCases = groups(values).map((group) => setThing('Names', psStringArray(group), group.flatMap(constants)));
const literalCases = [
  writeOutput(psLiteral(null), [], ['null']),
  writeOutput(psLiteral(true), [], ['true']),
  writeOutput(psLiteral(false), [], ['false']),
  ...NUMBERS.map((number) => writeOutput(psLiteral(number), [])),
  writeOutput(psLiteral(hostile.slice(0, 3)), hostile.slice(0, 3).flatMap(constants)),
];

describe.skipIf(!pwshPath)('literals against the real PowerShell parser (needs pwsh: dotnet tool install --tool-path .tools PowerShell --version 7.6.9)', () => {
  const cases = [...scalarCases, ...pairCases, ...arrayCases, ...literalCases];
  let parses: PwshParse[] = [];
  beforeAll(async () => {
    parses = await parseWithPwsh(cases.map((testCase) => testCase.script));
  }, 120_000);

  const failures = (from: number, to: number): string[] =>
    cases.slice(from, to).flatMap((testCase, offset) => {
      const found = differences(parses[from + offset]!, testCase);
      return found.length > 0 ? [`${JSON.stringify(testCase.script.slice(0, 200))}: ${found.join('; ')}`] : [];
    });

  it(`parses psString(v) as exactly one string constant with value v, no other command or variable (${values.length} values, seed ${SEED})`, () => {
    expect(failures(0, scalarCases.length)).toEqual([]);
  });

  it('parses two values on one command line as exactly those two strings', () => {
    expect(failures(scalarCases.length, scalarCases.length + pairCases.length)).toEqual([]);
  });

  it('parses psStringArray(vs) as exactly the strings vs', () => {
    const start = scalarCases.length + pairCases.length;
    expect(failures(start, start + arrayCases.length)).toEqual([]);
  });

  it('parses psLiteral numbers as numbers (no bareword string), booleans and null as their variables', () => {
    expect(failures(cases.length - literalCases.length, cases.length)).toEqual([]);
  });

  it('evaluates psString(v) of a value with line breaks to exactly v (after the parse showed it is data)', async () => {
    const withBreaks = values.filter(hasLineBreak);
    expect(withBreaks.length).toBeGreaterThan(10);
    expect(await evaluateWithPwsh(withBreaks.map(psString))).toEqual(withBreaks);
  }, 120_000);

  it('keeps NUL inside a single-quoted string', () => {
    const index = scalarCases.findIndex((testCase) => testCase.script === `Write-Output ${psString('a\u0000b')}`);
    expect(parses[index]?.stringConstants[1]?.value).toBe('a\u0000b');
  });
});

describe('literals against the tree-sitter grammar (ASCII, where it is reliable)', () => {
  let parser: Parser;
  let strings: Query;
  let commands: Query;
  let variables: Query;
  beforeAll(async () => {
    await Parser.init();
    const language = await Language.load(createRequire(import.meta.url).resolve('tree-sitter-powershell/tree-sitter-powershell.wasm'));
    parser = new Parser().setLanguage(language);
    strings = new Query(language, '(string_literal) @string');
    commands = new Query(language, '(command command_name: (_) @name)');
    variables = new Query(language, '[(variable) (braced_variable) (sub_expression)] @variable');
  });

  it('parses psString(v) as one string literal that decodes to v, in both positions', () => {
    fc.assert(
      fc.property(asciiString, (value) => {
        for (const [script, command] of [[`Write-Output ${psString(value)}`, 'Write-Output'], [`Set-Thing -Name ${psString(value)} -Other 'x'`, 'Set-Thing']] as const) {
          const tree = parser.parse(script)!;
          try {
            expect(tree.rootNode.hasError).toBe(false);
            const literals = strings.captures(tree.rootNode).map(({ node }) => node.text);
            expect(literals[0]).toBe(unparenthesized(psString(value)));
            expect(literals[0]!.slice(1, -1).replaceAll("''", "'")).toBe(value);
            expect(literals.slice(1)).toEqual(command === 'Set-Thing' ? ["'x'"] : []);
            expect(commands.captures(tree.rootNode).map(({ node }) => node.text)).toEqual([command]);
            expect(variables.captures(tree.rootNode)).toEqual([]);
          } finally {
            tree.delete();
          }
        }
      }),
      { seed: SEED, numRuns: 500 },
    );
  });
});
