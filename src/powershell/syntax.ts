/**
 * Parse-checking PowerShell for Windows PowerShell 5.1, which Exchange runs,
 * without a PowerShell on the machine.
 *
 * Two passes work together:
 *
 * 1. A scanner that follows PowerShell's own tokenizer rules where the
 *    tree-sitter grammar gets them wrong or does not know them: all five single
 *    quotes and all four double quotes, here-strings, comments, braced
 *    variables and backtick escapes. It reports unterminated strings,
 *    unbalanced brackets and the Unicode-quote trap itself, and rewrites the
 *    script into a text of the same length (so every index still points at the
 *    same character) on which the grammar is reliable: string contents and
 *    comments are blanked, and the grammar's known false positives
 *    (powershell-bridge.md §4.3 and more found against real scripts) are
 *    rewritten into equivalent constructs it accepts.
 * 2. tree-sitter-powershell parses that text. Its ERROR and MISSING nodes are
 *    the remaining syntax errors; its node types find PowerShell 7-only syntax.
 *
 * False positives of the grammar that remain, all rare in runbooks and absent
 * from what the compiler emits (the tests pin the first ones):
 * - in argument mode, an array element after a string that is a bareword or a
 *   parameter-like word: `Set-Thing 'a',b`, `-MsgId $i, -Message $m`;
 * - `.Where{ ... }` without parentheses (`.Where({ ... })` and `.ForEach{ ... }` are fine);
 * - a statement starting with `else` or `catch`: a command to PowerShell;
 * - a one-line switch clause or `param(…)` followed by a statement with no
 *   space between (`{1}'b'`), and a wildcard argument starting with `[` (`dir [a-z]*`).
 * The other way round, the grammar accepts a few things PowerShell rejects,
 * such as `try { }` without catch or finally, `$x = 1..` and `$x++ ++`.
 * The tests cross-check a corpus against the real parser in both directions,
 * and this checker found no false error in the 1.7 MB of scripts that ship with
 * PowerShell 7.6 beyond the constructs above.
 */
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import { Language, Parser, Query, type Node } from 'web-tree-sitter';
import { internalCommandMessage, internalVariableMessage, mayTouchInternals } from './internals.js';
import { OPERATOR_MESSAGES, parameterMessage, SEVEN_ONLY_MESSAGES, sevenOnlyVariableMessage, type Operator } from './seven-only.js';

/** One problem found in a script. */
export interface SyntaxProblem {
  /** 1-based line within the script. */
  readonly line: number;
  /** 1-based column within the line, in UTF-16 code units (as PowerShell counts). */
  readonly column: number;
  readonly message: string;
  readonly kind: SyntaxProblemKind;
}

/**
 * - `syntax`: the script does not parse;
 * - `syntax-uncertain`: the built-in grammar failed here, but it also fails on some valid scripts (a warning);
 * - `powershell-7-only`: syntax that needs PowerShell 7 and fails on Windows PowerShell 5.1;
 * - `powershell-7-variable`: `$IsWindows` and its kin, `$null` on 5.1 (a warning: often guarded code);
 * - `internals`: the script touches exch-cert's own state.
 */
export type SyntaxProblemKind = 'syntax' | 'syntax-uncertain' | 'powershell-7-only' | 'powershell-7-variable' | 'internals';

/**
 * Checks that a script parses under Windows PowerShell 5.1: syntax errors and
 * PowerShell 7-only syntax. line/column are 1-based within the script.
 * The grammar is loaded on first use and reused.
 */
export async function checkScriptSyntax(script: string): Promise<SyntaxProblem[]> {
  const grammar = await loadGrammar();
  const scan = new Scanner(script).run();
  const found: IndexedProblem[] = [...scan.problems];
  // Only whitespace and comments: valid, but the grammar insists on a statement.
  if (scan.text.trim() === '') return toProblems(script, found);
  const tree = grammar.parser.parse(scan.text);
  if (!tree) throw new Error('tree-sitter-powershell returned no tree');
  try {
    const view = inspectTree(grammar, tree.rootNode, script, scan);
    found.push(...view.sevenOnly, ...view.internals);
    // A 7-only operator token counts where the grammar failed on it; `&&` and
    // `||` parse as pipeline chains, which count too.
    const sevenOnlyAt = scan.problems.filter((problem) => problem.kind === 'powershell-7-only').map((problem) => problem.index);
    for (const candidate of scan.candidates) {
      const chain = view.chainOperators.has(candidate.index);
      if (!chain && !view.errors.some((error) => covers(error, candidate.index))) continue;
      sevenOnlyAt.push(candidate.index);
      found.push({ index: candidate.index, kind: 'powershell-7-only', message: OPERATOR_MESSAGES[candidate.operator] });
    }
    // After a broken string or bracket the grammar's errors are its echoes;
    // where a 7-only construct explains an error, its message is the useful one.
    if (!scan.problems.some((problem) => problem.kind === 'syntax')) {
      for (const error of view.errors) {
        if (!sevenOnlyAt.some((index) => explains(script, index, error))) found.push({ index: error.at, kind: 'syntax-uncertain', message: error.message });
      }
    }
  } finally {
    tree.delete();
  }
  return toProblems(script, found);
}

// ---------------------------------------------------------------------------
// Loading the grammar

/** The parser and the queries that pick the nodes we look at. */
interface Grammar {
  readonly parser: Parser;
  /** `&&` and `||` parsed as pipeline chain operators. */
  readonly chains: Query;
  readonly variables: Query;
  /** Each parameter of each command, with the command's name. */
  readonly parameters: Query;
  /** Each command with its name. */
  readonly commands: Query;
}

let grammarPromise: Promise<Grammar> | undefined;

/** The grammar, loaded once; a failed load is retried on the next call. */
function loadGrammar(): Promise<Grammar> {
  grammarPromise ??= createGrammar().catch((error: unknown) => {
    grammarPromise = undefined;
    throw error;
  });
  return grammarPromise;
}

async function createGrammar(): Promise<Grammar> {
  // Left alone, V8 optimizes the grammar's huge lexer function in the
  // background: 8-10 s of CPU that the process then waits for before it can
  // exit, for no measurable gain in parse speed. Baseline wasm code only
  // (wasm is compiled with the flags of the moment; nothing else here uses it).
  setFlagsFromString('--liftoff-only');
  await Parser.init();
  // tree-sitter-powershell has no "exports" map, so its files resolve by path,
  // from src/ under vitest as from the bundle in dist/ (the package stays external).
  const wasmPath = createRequire(import.meta.url).resolve('tree-sitter-powershell/tree-sitter-powershell.wasm');
  const language = await Language.load(wasmPath);
  return {
    parser: new Parser().setLanguage(language),
    chains: new Query(language, '(pipeline_chain_tail) @chain'),
    variables: new Query(language, '[(variable) (braced_variable)] @variable'),
    parameters: new Query(language, '(command command_name: (_) @name command_elements: (command_elements (command_parameter) @parameter))'),
    commands: new Query(language, '(command command_name: (_) @name) @command'),
  };
}

// ---------------------------------------------------------------------------
// Characters, as PowerShell's CharTraits sees them

/** ' ‘ ’ ‚ ‛ are all single quotes to PowerShell, in any combination. */
const SINGLE_QUOTES = new Set(["'", '\u2018', '\u2019', '\u201A', '\u201B']);
/** " “ ” „ are all double quotes. */
const DOUBLE_QUOTES = new Set(['"', '\u201C', '\u201D', '\u201E']);
/** Hyphen, en dash, em dash and horizontal bar all start a parameter or an operator. */
const DASHES = new Set(['-', '\u2013', '\u2014', '\u2015']);
/** Whitespace other than newlines: PowerShell also counts the Unicode separators. */
const SPACE = /^[ \t\f\v\u00A0\u0085\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]$/;
/** What ends a bareword (a generic token in argument mode). */
const BAREWORD_END = /^[\s\0;,|&(){}'"\u2018-\u201E]$/;
const VARIABLE_CHAR = /^[\p{L}\p{N}_?]$/u;
const WORD_CHAR = /^[\p{L}\p{N}_]$/u;
const ASCII_NAME_CHAR = /^[A-Za-z0-9_]$/;
/** Numeric literals; the grammar knows only lower-case suffixes and exponents. */
const NUMBER = /^(?:0x[0-9a-f]+l?|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?[ld]?)(?:[kmgtp]b)?$/i;

const isSpace = (c: string | undefined): boolean => c !== undefined && SPACE.test(c);
const isNewline = (c: string | undefined): boolean => c === '\n' || c === '\r';
const isVariableChar = (c: string | undefined): boolean => c !== undefined && VARIABLE_CHAR.test(c);
const isWordChar = (c: string | undefined): boolean => c !== undefined && WORD_CHAR.test(c);
const isSingleQuote = (c: string | undefined): boolean => c !== undefined && SINGLE_QUOTES.has(c);
const isDoubleQuote = (c: string | undefined): boolean => c !== undefined && DOUBLE_QUOTES.has(c);

/** Words that start statements; the word after them is still in command position. */
const KEYWORDS = new Set([
  'begin', 'break', 'catch', 'class', 'clean', 'configuration', 'continue', 'data', 'do', 'dynamicparam', 'else', 'elseif', 'end', 'enum',
  'exit', 'filter', 'finally', 'for', 'foreach', 'function', 'if', 'param', 'process', 'return', 'switch', 'throw', 'trap',
  'try', 'until', 'using', 'while', 'workflow',
]);

/** Keywords followed by the name of what they define. */
const DEFINITIONS = new Set(['function', 'filter', 'workflow', 'class', 'enum', 'configuration']);

// ---------------------------------------------------------------------------
// The scanner

interface IndexedProblem {
  readonly index: number;
  readonly message: string;
  readonly kind: SyntaxProblem['kind'];
}

/** What a bracket pair means for the rewrites. */
type Role = 'plain' | 'switch-body' | 'switch-condition' | 'switch-action' | 'param';

interface CodeFrame {
  readonly type: 'code';
  /** '' for the script itself. */
  readonly opener: '' | '(' | '{' | '[';
  readonly start: number;
  readonly role: Role;
  /** The next word is a command name: start of a statement, after `|`, `=`, `&`. */
  expectCommand: boolean;
  /** The current statement is a command, so barewords are its arguments. */
  inCommand: boolean;
  /** After `&`: whatever comes next is the command. */
  invoked: boolean;
  /** A `switch` keyword was seen; the next `{` opens its body. */
  switchPending: boolean;
  /** In a switch body: what the next top-level token is. */
  clause: 'condition' | 'in-condition' | 'action';
  /** Opened where a command argument goes. */
  argument: boolean;
  /** The parentheses of a method call, `$x.Name(` or `[T]::Name(`. */
  call: boolean;
  /** A `{` where a value goes (`$sb = {`, `Mock Get-Date {`): a script block expression, not a statement block. */
  scriptBlockValue: boolean;
}

interface StringFrame {
  readonly type: 'string';
  readonly start: number;
  readonly here: boolean;
}

interface LastToken {
  readonly kind: 'word' | 'parameter' | 'other';
  readonly start: number;
  readonly end: number;
  /** A bareword that is an argument of a command. */
  readonly argument: boolean;
  readonly keyword: string | undefined;
}

interface Scan {
  /** The script rewritten for the grammar, as long as the input. */
  readonly text: string;
  readonly problems: readonly IndexedProblem[];
  /** 7-only operator tokens; the grammar tells whether they were operators. */
  readonly candidates: ReadonlyArray<{ readonly index: number; readonly operator: Operator }>;
}

/** A `$(` inside a string being scanned, up to the `)` PowerShell counted. */
interface Limit {
  /** Stack index of its code frame. */
  readonly depth: number;
  /** Index of the counted `)`. */
  readonly end: number;
  /** Where scanning stopped before. */
  readonly outer: number;
}

/**
 * Tokenizes like PowerShell far enough to know what is code, string and
 * comment, and rewrites the text for the grammar (see the file comment).
 * Strings and brackets nest (`"a $("b $(1)") c"`), so frames live on an
 * explicit stack rather than in recursion.
 */
class Scanner {
  private readonly src: string;
  private readonly out: string[];
  /** Where scanning stops: the end of the script, or the `)` that ends the string sub-expression being scanned. */
  private n: number;
  private i = 0;
  /** The `$(…)` sub-expressions of strings being scanned, innermost last. */
  private readonly limits: Limit[] = [];
  private readonly stack: Array<CodeFrame | StringFrame> = [codeFrame('', 0, 'plain')];
  private readonly problems: IndexedProblem[] = [];
  private readonly candidates: Array<{ index: number; operator: Operator }> = [];
  private last: LastToken = { kind: 'other', start: 0, end: 0, argument: false, keyword: undefined };
  /** After a Unicode-quote trap, a later unterminated string is its echo, not news. */
  private trapped = false;

  constructor(src: string) {
    this.src = src;
    this.out = src.split('');
    this.n = src.length;
  }

  run(): Scan {
    for (;;) {
      if (this.i >= this.n) {
        const limit = this.limits.pop();
        if (!limit) break;
        this.endSubexpression(limit);
        continue;
      }
      const top = this.top();
      if (top.type === 'string') this.stringContent(top);
      else this.codeToken(top);
    }
    this.reportOpen(0);
    if (/\bbase\b/i.test(this.src)) Scanner.constructorChains(this.out);
    return { text: this.out.join(''), problems: this.problems, candidates: this.candidates };
  }

  /** Reports what is still open above stack depth `depth`, and drops it. */
  private reportOpen(depth: number): void {
    while (this.stack.length - 1 > depth) {
      const frame = this.stack.pop();
      if (frame?.type === 'string') this.unterminated(frame.start, frame.here ? 'here-string' : 'string');
      else if (frame && frame.opener !== '[') this.missingCloser(frame);
    }
  }

  /**
   * In a `"…"` or `@"…"@` string PowerShell finds the end of `$(` by counting
   * parentheses, ignoring quotes and comments (`"$(')')"` ends at the first `)`),
   * and only then parses the code up to there; text after an earlier real `)`
   * is ignored. Returns the index of the counted `)`, or -1.
   */
  private subexpressionEnd(from: number): number {
    let depth = 1;
    for (let k = from; k < this.n; k++) {
      const c = this.src[k];
      if (c === '`') k++;
      else if (c === '(') depth++;
      else if (c === ')' && --depth === 0) return k;
    }
    return -1;
  }

  /** At the counted `)`: whatever is still open inside the sub-expression is an error. */
  private endSubexpression(limit: Limit): void {
    this.reportOpen(limit.depth);
    this.stack.pop();
    this.n = limit.outer;
    this.i = limit.end + 1;
  }

  private top(): CodeFrame | StringFrame {
    const top = this.stack[this.stack.length - 1];
    if (!top) throw new Error('scanner stack underflow');
    return top;
  }

  private syntax(index: number, message: string): void {
    this.problems.push({ index, message, kind: 'syntax' });
  }

  private sevenOnly(index: number, message: string): void {
    this.problems.push({ index, message, kind: 'powershell-7-only' });
  }

  private unterminated(start: number, what: 'string' | 'here-string'): void {
    if (this.trapped) return;
    const quote = this.src[what === 'string' ? start : start + 1] ?? '';
    this.syntax(start, what === 'string' ? `unterminated string: the ${quote} here has no closing quote` : `unterminated here-string: its closing ${quote}@ must start a line`);
  }

  private missingCloser(frame: CodeFrame): void {
    const opener = this.src.slice(frame.start, frame.start + (this.src[frame.start] === frame.opener ? 1 : 2));
    this.syntax(frame.start, `missing closing '${frame.opener === '(' ? ')' : '}'}' for this '${opener}'`);
  }

  /** Replaces [from, to) with `fill`, keeping the length. */
  private blank(from: number, to: number, fill: string): void {
    for (let k = from; k < to; k++) this.out[k] = fill;
  }

  private setLast(kind: LastToken['kind'], start = this.i, argument = false, keyword?: string): void {
    this.last = { kind, start, end: this.i, argument, keyword };
  }

  /** Ends a statement: the next word is a command name again. */
  private statementBoundary(frame: CodeFrame): void {
    frame.expectCommand = true;
    frame.inCommand = false;
    frame.invoked = false;
    this.setLast('other');
  }

  /** After a string, variable, number or closing bracket. */
  private afterValue(frame: CodeFrame): void {
    if (frame.expectCommand) frame.inCommand = frame.invoked;
    frame.expectCommand = false;
    frame.invoked = false;
    this.setLast('other');
  }

  /** Whether a value starting now is a command argument. */
  private static inArgument(frame: CodeFrame): boolean {
    return frame.inCommand && !frame.expectCommand;
  }

  /** The last character of code before `index`, skipping whitespace and (blanked) comments. */
  private previousCode(index: number): string | undefined {
    let k = index - 1;
    while (k >= 0 && (isSpace(this.out[k]) || isNewline(this.out[k]))) k--;
    return k >= 0 ? this.out[k] : undefined;
  }

  // -- code ------------------------------------------------------------------

  private codeToken(frame: CodeFrame): void {
    const { src } = this;
    const c = src[this.i] ?? '';
    const next = src[this.i + 1];

    if (isNewline(c)) {
      this.i++;
      this.statementBoundary(frame);
      return;
    }
    if (isSpace(c) || c === '\0') {
      // PowerShell's whitespace is wider than the grammar's (and NUL splits
      // tokens); a plain space may already have been rewritten to `;`.
      if (c !== ' ' && c !== '\t') this.out[this.i] = ' ';
      this.i++;
      return;
    }
    if (c === '#' || (c === '<' && next === '#')) {
      this.comment(c === '#');
      return;
    }
    if (c === '`' && (next === undefined || isNewline(next))) {
      // A line continuation is not a token.
      this.i += next === '\r' && src[this.i + 2] === '\n' ? 3 : 2;
      return;
    }
    if (frame.role === 'switch-body' && frame.clause === 'condition' && c !== '{' && c !== '}' && c !== ';') frame.clause = 'in-condition';

    switch (c) {
      case ';':
        this.i++;
        this.statementBoundary(frame);
        return;
      case '(':
      case '{':
      case '[':
        this.open(frame, c, this.i, 1);
        return;
      case ')':
      case '}':
      case ']':
        this.close(c);
        return;
      case ',':
        this.comma();
        return;
      case '=':
        // The right-hand side of an assignment starts in command position (`$x = Get-Thing a,b`).
        this.i++;
        this.statementBoundary(frame);
        return;
      case '|':
      case '&':
        this.pipeOrCall(frame, c);
        return;
      case '@':
        if (this.atSign(frame)) return;
        break;
      case '$':
        if (this.dollar(frame)) return;
        break;
      case '?':
        if (this.questionOperator(frame)) return;
        break;
    }
    if (isSingleQuote(c)) {
      this.singleQuoted(frame);
      this.afterValue(frame);
      return;
    }
    if (isDoubleQuote(c)) {
      this.out[this.i] = '"';
      this.stack.push({ type: 'string', start: this.i, here: false });
      this.i++;
      this.afterValue(frame);
      return;
    }
    if (DASHES.has(c) && next !== undefined) {
      if (/^[A-Za-z_?]$/.test(next) || (c !== '-' && /^\p{L}$/u.test(next))) {
        this.parameter(frame);
        return;
      }
      if (next === '-' && this.doubleDashArgument()) {
        this.blank(this.i, this.i + 2, 'x');
        this.bareword(frame);
        return;
      }
    }
    this.bareword(frame);
  }

  private comment(line: boolean): void {
    const { src } = this;
    let end: number;
    if (line) {
      end = this.i;
      while (end < this.n && !isNewline(src[end])) end++;
      if (end === this.n && this.limits.length > 0) this.syntax(this.i, "this comment hides the ')' that ends the '$(' of the string");
    } else {
      const close = src.indexOf('#>', this.i + 2);
      const closed = close >= 0 && close + 2 <= this.n;
      if (!closed) this.syntax(this.i, "unterminated block comment: '<#' has no closing '#>'");
      end = closed ? close + 2 : this.n;
    }
    // Newlines too: PowerShell does not end a statement at a newline inside
    // <# #>, and positions map back by index, not by row.
    this.blank(this.i, end, ' ');
    this.i = end;
  }

  private pipeOrCall(frame: CodeFrame, c: '|' | '&'): void {
    if (c === '&' && this.src[this.i + 1] !== '&' && this.backgroundOperator(frame)) return;
    if (this.src[this.i + 1] === c) {
      this.candidates.push({ index: this.i, operator: c === '&' ? '&&' : '||' });
      this.i += 2;
      this.statementBoundary(frame);
      return;
    }
    if (c === '|' && this.pipeStartsLine(frame)) {
      this.sevenOnly(this.i, SEVEN_ONLY_MESSAGES.leadingPipe);
    }
    this.i++;
    this.statementBoundary(frame);
    // `& $block a,b`: what follows the call operator is the command.
    frame.invoked = c === '&';
  }

  /** `|` first on its line, continuing a statement from an earlier line that did not end in a line continuation. */
  private pipeStartsLine(frame: CodeFrame): boolean {
    let k = this.i - 1;
    while (k >= 0 && isSpace(this.out[k])) k--;
    if (k < 0 || !isNewline(this.out[k])) return false;
    const lineEnd = this.out[k] === '\n' && this.out[k - 1] === '\r' ? k - 1 : k;
    if (this.out[lineEnd - 1] === '`') return false;
    const before = this.previousCode(k);
    return before !== undefined && k > frame.start && !'({;|'.includes(before);
  }

  /** `@'`, `@"`, `@(`, `@{`, `@splat`; false when `@` is just part of a bareword. */
  private atSign(frame: CodeFrame): boolean {
    const next = this.src[this.i + 1];
    if (isSingleQuote(next) || isDoubleQuote(next)) {
      this.hereString(isSingleQuote(next));
      this.afterValue(frame);
      return true;
    }
    if (next === '(' || next === '{') {
      this.open(frame, next, this.i, 2);
      return true;
    }
    if (isVariableChar(next)) {
      this.variable(frame, this.i + 1);
      return true;
    }
    return false;
  }

  /** `$(`, `${…}`, `$name`; false for a lone `$`. */
  private dollar(frame: CodeFrame): boolean {
    const next = this.src[this.i + 1];
    if (next === '(') {
      this.open(frame, '(', this.i, 2);
      return true;
    }
    if (next === '{' || isVariableChar(next) || next === '$' || next === '^') {
      this.variable(frame, this.i + 1);
      return true;
    }
    return false;
  }

  private open(frame: CodeFrame, opener: '(' | '{' | '[', start: number, width: number): void {
    const { src } = this;
    let role: Role = 'plain';
    if (opener === '{' && width === 1) {
      if (frame.role === 'switch-body') role = frame.clause === 'condition' ? 'switch-condition' : 'switch-action';
      else if (frame.switchPending) role = 'switch-body';
      frame.switchPending = false;
    } else if (opener === '(' && width === 1 && this.last.keyword === 'param' && src.slice(this.last.end, start).trim() === '') {
      role = 'param';
    }
    const opened = codeFrame(opener, start, role);
    opened.argument = Scanner.inArgument(frame);
    if (opener === '{' && width === 1 && role === 'plain') {
      const before = this.previousCode(start);
      opened.scriptBlockValue = opened.argument || before === undefined || '=,(&|;'.includes(before) || isNewline(before);
    }
    opened.call = width === 1 && opener === '(' && this.last.kind === 'word' && this.last.end === start && /[.:]/.test(src.slice(this.last.start, start));
    // Index brackets, type names, attribute and method arguments hold
    // expressions; other brackets hold statements that may be commands.
    const invocation = width === 1 && opener === '(' && /^[\p{L}\p{N}_\])]$/u.test(src[start - 1] ?? '');
    if (opener === '[' || frame.opener === '[' || invocation) opened.expectCommand = false;
    this.stack.push(opened);
    this.i += width;
  }

  private close(closer: ')' | '}' | ']'): void {
    const { src } = this;
    let frame = this.top();
    // `[` is also a literal in barewords and wildcards: never report it
    // unbalanced, drop it when an outer bracket closes.
    if (closer !== ']') {
      while (frame.type === 'code' && frame.opener === '[') {
        this.stack.pop();
        frame = this.top();
      }
    }
    const expected = frame.type === 'code' ? { '(': ')', '{': '}', '[': ']', '': undefined }[frame.opener] : undefined;
    const limit = this.limits[this.limits.length - 1];
    if (closer === ')' && expected === ')' && limit?.depth === this.stack.length - 1) {
      // A string's sub-expression closed before the `)` PowerShell counted:
      // PowerShell ignores the text up to that one.
      this.limits.pop();
      this.stack.pop();
      this.blank(this.i + 1, limit.end + 1, 'x');
      this.n = limit.outer;
      this.i = limit.end + 1;
      return;
    }
    if (frame.type === 'string' || closer !== expected) {
      if (closer !== ']') this.syntax(this.i, `unexpected '${closer}'${expected ? ` (expected '${expected}')` : ''}`);
      this.i++;
      if (frame.type === 'code') this.afterValue(frame);
      return;
    }
    this.stack.pop();
    this.i++;
    if (frame.scriptBlockValue) this.emptyScriptBlock(frame.start, this.i - 1);
    const parent = this.top();
    if (parent.type === 'string') return;
    if (frame.role === 'switch-condition') parent.clause = 'action';
    if (frame.role === 'switch-action') parent.clause = 'condition';
    if (frame.role === 'switch-action' || frame.role === 'param') this.separateStatement();
    if (frame.argument && (src[this.i] === '.' || src[this.i] === '[')) {
      if (frame.call) this.methodCallInChain(frame.start);
      else if (frame.opener === '(') this.parenthesizedArgumentWithMember(frame.start);
    }
    this.afterValue(parent);
  }

  /**
   * An empty script block as a value (`Mock Get-Date {}`, `$sb = { }`) is
   * valid, but the grammar wants a statement in it: `{ }` becomes `{;}`, and
   * `{}`, which has no room for one, the value `''`.
   */
  private emptyScriptBlock(open: number, close: number): void {
    for (let k = open + 1; k < close; k++) if (!isSpace(this.out[k]) && !isNewline(this.out[k])) return;
    if (close === open + 1) {
      this.out[open] = "'";
      this.out[close] = "'";
    } else if (isSpace(this.out[open + 1])) {
      this.out[open + 1] = ';';
    }
  }

  /**
   * The grammar wants a newline or `;` after a one-line switch clause and after
   * `param(…)`, where PowerShell does not: the first following space becomes `;`.
   */
  private separateStatement(): void {
    const { src } = this;
    if (src[this.i] !== ' ' && src[this.i] !== '\t') return;
    let k = this.i;
    while (src[k] === ' ' || src[k] === '\t') k++;
    if (k < this.n && !';})#\r\n'.includes(src[k] ?? '')) this.out[this.i] = ';';
  }

  /**
   * `(…).Member` as a command argument parses in PowerShell, but the grammar
   * takes `(…)` as a whole argument and fails at the `.`. With a unary `+` in
   * front (`-Nam +(…).Member`) it takes the expression path instead; the `+`
   * takes the space, and the previous word's last letter becomes the separator.
   */
  private parenthesizedArgumentWithMember(start: number): void {
    const { src } = this;
    if (src[start - 1] !== ' ' && src[start - 1] !== '\t') return;
    if (src[start - 2] === ' ' || src[start - 2] === '\t') {
      this.out[start - 1] = '+';
    } else if (/^[A-Za-z0-9]$/.test(src[start - 2] ?? '') && /^[A-Za-z0-9]$/.test(src[start - 3] ?? '')) {
      this.out[start - 2] = ' ';
      this.out[start - 1] = '+';
    }
  }

  /**
   * In a command argument the grammar takes `$x.A(…)` as the whole argument and
   * fails at a following `.B()`. An index or a longer member name lets it go
   * on: `(…)` becomes `[…]`, and `()` becomes `__`.
   */
  private methodCallInChain(start: number): void {
    const end = this.i - 1;
    if (this.src.slice(start + 1, end).trim() === '') {
      this.blank(start, end + 1, '_');
    } else {
      this.out[start] = '[';
      this.out[end] = ']';
    }
  }

  /** `'…'` with any of the five quotes; a doubled quote (any two) is one literal quote. */
  private singleQuoted(frame: CodeFrame): void {
    const { src } = this;
    const start = this.i;
    let k = start + 1;
    while (k < this.n && !(isSingleQuote(src[k]) && !isSingleQuote(src[k + 1]))) k += isSingleQuote(src[k]) ? 2 : 1;
    this.out[start] = "'";
    if (k >= this.n) {
      this.blank(start + 1, this.n, 'x');
      this.unterminated(start, 'string');
      this.i = this.n;
      return;
    }
    this.blank(start + 1, k, 'x');
    this.out[k] = "'";
    this.i = k + 1;
    if (this.quoteTrap(start, k)) return;
    // `'a'b` is one argument to PowerShell, two tokens without a separator to
    // the grammar: make the string part of the bareword.
    if (Scanner.inArgument(frame) && (isSpace(src[start - 1]) || src[start - 1] === ':') && isWordChar(src[k + 1])) this.blank(start, k + 1, 'x');
  }

  /**
   * A string closed by a typographic quote (or opened by one and closed by an
   * ASCII quote) right before more letters was meant to go on: `'it’s'` is
   * `'it’` and then code to PowerShell. Returns whether it reported one.
   */
  private quoteTrap(start: number, close: number): boolean {
    const open = this.src[start] ?? '';
    const closer = this.src[close] ?? '';
    if ((open === "'" || open === '"') && (closer === "'" || closer === '"')) return false;
    if (!isWordChar(this.src[close + 1])) return false;
    const code = closer.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    const family = isSingleQuote(closer) ? "' ‘ ’ ‚ ‛ all as single" : '" “ ” „ all as double';
    this.syntax(close, `the ${closer} (U+${code}) ends this string: PowerShell treats ${family} quotes, so the text after it is read as code; double it (${closer}${closer}) to keep it in the string`);
    this.trapped = true;
    return true;
  }

  /** `@'…'@` or `@"…"@`: the header ends its line, the footer starts one. */
  private hereString(verbatim: boolean): void {
    const { src } = this;
    const start = this.i;
    let k = start + 2;
    while (isSpace(src[k])) k++;
    if (k < this.n && !isNewline(src[k])) this.syntax(k, `nothing may follow the here-string header ${src.slice(start, start + 2)} on its line`);
    // The grammar's here-string rules are fragile; a plain multi-line string of
    // the same length parses the same way: @' becomes 'x and '@ becomes x'.
    const quote = verbatim ? "'" : '"';
    this.out[start] = quote;
    this.out[start + 1] = 'x';
    if (!verbatim) {
      this.stack.push({ type: 'string', start, here: true });
      this.i = start + 2;
      return;
    }
    for (k = start + 2; k < this.n; k++) {
      const end = isNewline(src[k]) ? this.hereStringFooter(k, isSingleQuote) : -1;
      if (end < 0) continue;
      this.blank(start + 2, end - 1, 'x');
      this.out[end - 1] = quote;
      this.i = end;
      return;
    }
    this.blank(start + 2, this.n, 'x');
    this.unterminated(start, 'here-string');
    this.i = this.n;
  }

  /** For a newline at `k`: the index after a `'@`/`"@` footer that starts the next line, or -1. */
  private hereStringFooter(k: number, isQuote: (c: string | undefined) => boolean): number {
    const lineStart = this.src[k] === '\r' && this.src[k + 1] === '\n' ? k + 2 : k + 1;
    return lineStart + 1 < this.n && isQuote(this.src[lineStart]) && this.src[lineStart + 1] === '@' ? lineStart + 2 : -1;
  }

  /** `$name`, `$scope:name`, `${any name}`, `@splat`, `$$`, `$^`, `$?`; `from` follows the sigil. */
  private variable(frame: CodeFrame, from: number): void {
    const { src } = this;
    const start = this.i;
    const argument = Scanner.inArgument(frame);
    let k = from;
    if (src[k] === '{') {
      while (k < this.n && src[k] !== '}') k += src[k] === '`' ? 2 : 1;
      if (k >= this.n) {
        this.syntax(start, "missing closing '}' of the variable name '${'");
        k = this.n;
      }
      this.blank(from + 1, k, 'x');
      k = Math.min(k + 1, this.n);
    } else if (src[k] === '$' || src[k] === '^') {
      k++;
    } else {
      while (isVariableChar(src[k])) k++;
      if (src[k] === ':' && isVariableChar(src[k + 1])) {
        k++;
        while (isVariableChar(src[k])) k++;
      }
      // The grammar knows only ASCII names without `?` (`$a?` and `$é` are fine in PowerShell).
      if (k - from > 1) {
        for (let j = from; j < k; j++) if (src[j] !== ':' && !ASCII_NAME_CHAR.test(src[j] ?? '')) this.out[j] = 'x';
      }
    }
    this.i = k;
    // `$PSHOME\Traces` is one argument to PowerShell: let the grammar see a bareword.
    const after = src[k];
    const continues = after !== undefined && !isSpace(after) && !BAREWORD_END.test(after) && !'.[]#:'.includes(after);
    if (argument && continues && !(after === '`' && isNewline(src[k + 1]))) this.blank(start, k, 'x');
    this.afterValue(frame);
  }

  /** A `-Name` parameter or `-op` operator token. */
  private parameter(frame: CodeFrame): void {
    const { src } = this;
    this.out[this.i] = '-';
    let k = this.i + 1;
    while (k < this.n && /^[\p{L}\p{N}_?-]$/u.test(src[k] ?? '')) {
      // The grammar's parameter token has no digits (`-X509CertificateName`,
      // `-Param1`) and only ASCII letters: same-length letters keep the columns.
      if (!/^[A-Za-z_?-]$/.test(src[k] ?? '')) this.out[k] = 'a';
      k++;
    }
    if (src[k] === ':') k++;
    this.i = k;
    if (frame.expectCommand) frame.inCommand = frame.invoked;
    frame.expectCommand = false;
    this.setLast('parameter');
  }

  /**
   * `--name=value` and a bare `--` after a command word are arguments to
   * PowerShell (native tools use them) but errors to the grammar.
   */
  private doubleDashArgument(): boolean {
    const { src } = this;
    const after = src[this.i + 2];
    const afterWord = (this.last.kind === 'word' || this.last.kind === 'parameter') && isSpace(src[this.i - 1]);
    return afterWord && (after === undefined || isSpace(after) || isNewline(after) || /^[A-Za-z]$/.test(after));
  }

  /** `??`, `??=`, `?.`, `?[` and a lone `?` become candidates; false when `?` starts a bareword. */
  private questionOperator(frame: CodeFrame): boolean {
    const { src } = this;
    const at = this.i;
    const next = src[at + 1];
    let operator: Operator | undefined;
    if (next === '?') operator = src[at + 2] === '=' ? '??=' : '??';
    else if ((next === '.' || next === '[') && at > 0 && !isSpace(src[at - 1]) && !isNewline(src[at - 1])) operator = next === '.' ? '?.' : '?[';
    else if (next === undefined || isSpace(next) || isNewline(next) || (!frame.expectCommand && isSpace(src[at - 1]))) operator = '?';
    if (!operator) return false;
    this.candidates.push({ index: at, operator });
    // A lone `?` in command position is also Where-Object.
    if (operator === '?' && frame.expectCommand) {
      this.bareword(frame);
      return true;
    }
    this.i += operator === '?.' || operator === '?[' ? 1 : operator.length;
    frame.expectCommand = operator !== '?.' && operator !== '?[';
    this.setLast('other');
    return true;
  }

  /**
   * An array of barewords in argument mode (`-Services IIS,SMTP,POP`) is valid
   * PowerShell, but the grammar wants expressions after a comma: join the
   * words with `_` so that it sees one bareword.
   */
  private comma(): void {
    const { src } = this;
    if (this.last.kind === 'word' && this.last.argument && this.last.end === this.i) {
      let k = this.i + 1;
      while (isSpace(src[k])) k++;
      if (k < this.n && !';|)}\r\n'.includes(src[k] ?? '')) this.out[this.i] = '_';
    }
    this.i++;
  }

  /** A generic token: command names, arguments, numbers, operators, type names. */
  private bareword(frame: CodeFrame): void {
    const { src } = this;
    const start = this.i;
    let k = start;
    while (k < this.n) {
      const c = src[k] ?? '';
      if (c === '`') {
        const escaped = src[k + 1];
        if (escaped === undefined || isNewline(escaped)) break;
        // An escaped character is a literal; the grammar hardly knows escapes outside strings.
        const width = /^[\uD800-\uDBFF]$/.test(escaped) && /^[\uDC00-\uDFFF]$/.test(src[k + 2] ?? '') ? 3 : 2;
        this.blank(k, k + width, 'x');
        k += width;
        continue;
      }
      if (k > start && (BAREWORD_END.test(c) || isSpace(c))) break;
      if (k > start && c === '$' && (isVariableChar(src[k + 1]) || src[k + 1] === '(' || src[k + 1] === '{')) break;
      if (frame.opener === '[' && c === ']') break;
      if (k > start && c === '?' && (src[k + 1] === '.' || src[k + 1] === '[')) this.candidates.push({ index: k, operator: src[k + 1] === '.' ? '?.' : '?[' });
      // A nested type, [System.Environment+SpecialFolder], is a dotted name to the grammar.
      if (c === '+' && frame.opener === '[' && isWordChar(src[k - 1]) && isWordChar(src[k + 1])) this.out[k] = '.';
      k++;
    }
    if (k === start) k++;
    const word = src.slice(start, k);
    const lower = word.toLowerCase();
    this.i = k;
    if (NUMBER.test(word)) {
      for (let j = start; j < k; j++) this.out[j] = (src[j] ?? '').toLowerCase();
    }
    const generic = src[k] === '(' ? /(?:\.|::)[\p{L}_][\p{L}\p{N}_]*(\[[^\]]*\])$/u.exec(word) : null;
    if (generic?.[1]) {
      const at = k - generic[1].length;
      this.sevenOnly(at, SEVEN_ONLY_MESSAGES.genericMethod);
      this.blank(at, k, 'x');
    }
    // The grammar reads `.ForEach` as its `.foreach { }` form, so a `.ForEach(…)` call fails.
    if (lower.endsWith('.foreach') && src[k] === '(') this.out[k - 1] = 'x';

    const commandPosition = frame.expectCommand;
    if (DEFINITIONS.has(this.last.keyword ?? '')) {
      // The name after `function`, `class`, `enum`: not a command, and its `{` is a body.
      this.typeHeader(this.last.keyword ?? '', k);
      frame.expectCommand = false;
      frame.inCommand = false;
      this.setLast('word', start, false, undefined);
      return;
    }
    if (lower === 'clean' && (commandPosition || this.previousCode(start) === '}') && /^\s*\{/.test(src.slice(k, k + 100))) {
      this.sevenOnly(start, SEVEN_ONLY_MESSAGES.clean);
    }
    if (/^[-+*/%]?=$/.test(word)) {
      this.statementBoundary(frame);
      return;
    }
    // `[Flags()] enum E` and `[NoRunspaceAffinity()] class C`: attributes come before the keyword.
    const afterAttribute = (lower === 'enum' || lower === 'class') && this.previousCode(start) === ']';
    if ((commandPosition || afterAttribute) && KEYWORDS.has(lower)) {
      if (lower === 'switch') frame.switchPending = true;
      // `break outer` is valid; the grammar only knows `break :outer`.
      if ((lower === 'break' || lower === 'continue') && src[k] === ' ' && /^[A-Za-z_]$/.test(src[k + 1] ?? '')) this.out[k] = ':';
      this.setLast('word', start, false, lower);
      return;
    }
    if (commandPosition && /^[-.]?\d/.test(word)) {
      // A statement that starts with a number is an expression.
      this.afterValue(frame);
      return;
    }
    if (commandPosition) frame.inCommand = true;
    frame.expectCommand = false;
    frame.invoked = false;
    this.setLast('word', start, !commandPosition && frame.inCommand, lower === 'param' ? 'param' : undefined);
  }

  /**
   * After `enum NAME` or `class NAME`, at `at`: an enum's underlying type
   * (`enum E : byte`) is PowerShell 7 only, and the grammar knows neither it
   * nor dotted base classes (`class E : System.Exception`).
   */
  private typeHeader(keyword: string, at: number): void {
    const header = /^\s*:\s*([\p{L}\p{N}_.]+(?:\s*,\s*[\p{L}\p{N}_.]+)*)/u.exec(this.src.slice(at, at + 400));
    if (!header?.[1]) return;
    const colon = at + header[0].indexOf(':');
    if (keyword === 'enum') {
      this.sevenOnly(colon, SEVEN_ONLY_MESSAGES.enumType);
      this.blank(colon, at + header[0].length, ' ');
    } else if (keyword === 'class') {
      for (let k = colon; k < at + header[0].length; k++) if (this.out[k] === '.') this.out[k] = '_';
    }
  }

  /** `Get-Thing &` at the end of a pipeline runs it as a background job: PowerShell 7 only. */
  private backgroundOperator(frame: CodeFrame): boolean {
    let k = this.i + 1;
    while (isSpace(this.src[k])) k++;
    const after = this.src[k];
    if (!(k >= this.n || isNewline(after) || after === ';' || after === '}' || after === ')' || after === '#')) return false;
    const before = this.previousCode(this.i);
    if (before === undefined || '({;|=,&'.includes(before) || isNewline(before)) return false;
    this.sevenOnly(this.i, SEVEN_ONLY_MESSAGES.background);
    this.out[this.i] = ' ';
    this.i++;
    this.statementBoundary(frame);
    return true;
  }

  /** `) : base(…)` after a class constructor's parameters: valid, but unknown to the grammar; blanked. */
  private static constructorChains(out: string[]): void {
    const text = out.join('');
    for (const match of text.matchAll(/\)(\s*:\s*base\s*\()/gi)) {
      const from = match.index + 1;
      let depth = 0;
      for (let k = from + (match[1]?.length ?? 0) - 1; k < out.length; k++) {
        if (out[k] === '(') depth++;
        else if (out[k] === ')' && --depth === 0) {
          for (let j = from; j <= k; j++) if (!isNewline(out[j])) out[j] = ' ';
          break;
        }
      }
    }
  }

  // -- strings -----------------------------------------------------------------

  /** Content of a `"…"` string or `@"…"@` here-string, up to its end or to a `$(` sub-expression. */
  private stringContent(frame: StringFrame): void {
    const { src } = this;
    let k = this.i;
    while (k < this.n) {
      const c = src[k];
      if (c === '`' && k + 1 < this.n) {
        this.blank(k, k + 2, 'x');
        k += 2;
        continue;
      }
      if (c === '$' && src[k + 1] === '{') {
        // `${name}` in a string reads up to its `}`, past any quote.
        let close = k + 2;
        while (close < this.n && src[close] !== '}') close += src[close] === '`' ? 2 : 1;
        if (close >= this.n) {
          this.syntax(k, "missing closing '}' of the variable name '${' in this string");
          this.blank(k, this.n, 'x');
          this.i = this.n;
          return;
        }
        this.blank(k, close + 1, 'x');
        k = close + 1;
        continue;
      }
      if (c === '$' && src[k + 1] === '(') {
        const end = this.subexpressionEnd(k + 2);
        if (end < 0) {
          this.syntax(k, "missing closing ')' for the '$(' in this string (PowerShell counts the parentheses in it, even those in quotes and comments)");
          this.blank(k, this.n, 'x');
          this.i = this.n;
          return;
        }
        this.stack.push(codeFrame('(', k, 'plain'));
        this.limits.push({ depth: this.stack.length - 1, end, outer: this.n });
        this.n = end;
        this.i = k + 2;
        return;
      }
      const end = frame.here && isNewline(c) ? this.hereStringFooter(k, isDoubleQuote) : -1;
      if (end >= 0) {
        this.blank(k, end - 1, 'x');
        this.out[end - 1] = '"';
        this.stack.pop();
        this.i = end;
        return;
      }
      if (!frame.here && isDoubleQuote(c)) {
        if (isDoubleQuote(src[k + 1])) {
          this.blank(k, k + 2, 'x');
          k += 2;
          continue;
        }
        this.out[k] = '"';
        this.stack.pop();
        this.i = k + 1;
        this.quoteTrap(frame.start, k);
        return;
      }
      this.out[k] = 'x';
      k++;
    }
    this.i = k;
  }
}

function codeFrame(opener: CodeFrame['opener'], start: number, role: Role): CodeFrame {
  return { type: 'code', opener, start, role, expectCommand: true, inCommand: false, invoked: false, switchPending: false, clause: 'condition', argument: false, call: false, scriptBlockValue: false };
}

// ---------------------------------------------------------------------------
// Reading the tree

interface TreeError {
  /** The range of the ERROR node. */
  readonly start: number;
  readonly end: number;
  /** Where to report it. */
  readonly at: number;
  readonly message: string;
}

interface TreeView {
  readonly errors: readonly TreeError[];
  /** Start indices of `&&`/`||` parsed as pipeline chain operators. */
  readonly chainOperators: ReadonlySet<number>;
  readonly sevenOnly: readonly IndexedProblem[];
  readonly internals: readonly IndexedProblem[];
}

const SEVEN_ONLY_VARIABLE = /^\$\{?(?:global:)?(IsWindows|IsLinux|IsMacOS|IsCoreCLR)\}?$/i;

/**
 * Errors, pipeline-chain operators and 7-only parameters and variables.
 * Crossing into wasm per node is what costs, so each question is asked only
 * when the text says it can matter, and by a query rather than a full walk.
 */
function inspectTree(grammar: Grammar, root: Node, script: string, scan: Scan): TreeView {
  const errors: TreeError[] = [];
  if (root.hasError) collectErrors(root, script, errors);
  const chainOperators = new Set<number>();
  if (scan.candidates.some((candidate) => candidate.operator === '&&' || candidate.operator === '||')) {
    for (const { node } of grammar.chains.captures(root)) chainOperators.add(node.startIndex);
  }
  const sevenOnly: IndexedProblem[] = [];
  if (/Is(?:Windows|Linux|MacOS|CoreCLR)/i.test(script)) {
    for (const { node } of grammar.variables.captures(root)) {
      const name = SEVEN_ONLY_VARIABLE.exec(script.slice(node.startIndex, node.endIndex))?.[1];
      if (name) {
        sevenOnly.push({ index: node.startIndex, kind: 'powershell-7-variable', message: sevenOnlyVariableMessage(name) });
      }
    }
  }
  const internals: IndexedProblem[] = [];
  if (mayTouchInternals(script)) {
    for (const { node } of grammar.variables.captures(root)) {
      const text = script.slice(node.startIndex, node.endIndex);
      const message = internalVariableMessage(text.replace(/^[$@]\{?/, '').replace(/\}$/, ''));
      if (message) internals.push({ index: node.startIndex, kind: 'internals', message });
    }
    for (const { captures } of grammar.commands.matches(root)) {
      const [command, name] = captures[0]?.name === 'command' ? captures : [captures[1], captures[0]];
      if (!command || !name) continue;
      const message = internalCommandMessage(script.slice(name.node.startIndex, name.node.endIndex), script.slice(name.node.startIndex, command.node.endIndex));
      if (message) internals.push({ index: name.node.startIndex, kind: 'internals', message });
    }
  }
  if (/[-\u2013-\u2015](?:pa|as)/i.test(script)) {
    for (const { captures } of grammar.parameters.matches(root)) {
      const [name, parameter] = captures.map(({ node }) => script.slice(node.startIndex, node.endIndex));
      const message = parameterMessage(name ?? '', parameter ?? '');
      const at = captures[1]?.node.startIndex;
      if (message && at !== undefined) sevenOnly.push({ index: at, kind: 'powershell-7-only', message });
    }
  }
  return { errors, chainOperators, sevenOnly, internals };
}

/**
 * ERROR and MISSING nodes, following only subtrees that contain errors. A
 * missing hidden token (the grammar's statement terminator) has no node of
 * its own: then the error is reported where its parent ends.
 */
function collectErrors(node: Node, script: string, errors: TreeError[]): void {
  const { type, startIndex, endIndex } = node;
  if (type === 'ERROR') {
    // An ERROR node often holds what parsed before the unexpected part, which
    // then starts at its last named child (with the sigil of a `$name`).
    const children = node.namedChildren;
    let at = children.length > 1 ? (children[children.length - 1]?.startIndex ?? startIndex) : startIndex;
    if (at > startIndex && (script[at - 1] === '$' || script[at - 1] === '@')) at--;
    errors.push({ start: startIndex, end: endIndex, at, message: nearMessage(script, at, endIndex) });
    return;
  }
  if (node.isMissing) {
    errors.push({ start: startIndex, end: endIndex, at: startIndex, message: /^[)}\]]$/.test(type) ? `missing closing '${type}'` : nearMessage(script, startIndex, script.length) });
    return;
  }
  let found = false;
  for (const child of node.children) {
    if (!child?.hasError) continue;
    found = true;
    collectErrors(child, script, errors);
  }
  if (!found) errors.push({ start: endIndex, end: endIndex, at: endIndex, message: nearMessage(script, endIndex, script.length) });
}

/** "syntax error near '...'" with the first line of the original text at [start, end). */
function nearMessage(script: string, start: number, end: number): string {
  const text = (script.slice(start, end).trim().split(/[\r\n]/)[0] ?? '').trim();
  if (text === '') return 'syntax error: unexpected end of the script';
  return `syntax error near '${text.length > 40 ? `${text.slice(0, 40)}...` : text}'`;
}

// ---------------------------------------------------------------------------
// Positions

function covers(error: TreeError, index: number): boolean {
  return index >= error.start && index <= error.end;
}

/** A 7-only construct at `index` explains a grammar error that covers it, shares its line or ends right before it. */
function explains(script: string, index: number, error: TreeError): boolean {
  if (covers(error, index)) return true;
  const between = index < error.start ? script.slice(index, error.start) : script.slice(error.start, index);
  return !/[\r\n]/.test(between) || (error.start < index && between.trim() === '');
}

/** Sorted by position, with line/column; repeats of one message on one line are dropped. */
function toProblems(script: string, found: readonly IndexedProblem[]): SyntaxProblem[] {
  const lineStarts = [0];
  for (let k = 0; k < script.length; k++) {
    const c = script[k];
    if (c === '\n' || (c === '\r' && script[k + 1] !== '\n')) lineStarts.push(k + 1);
  }
  const seen = new Set<string>();
  const problems: SyntaxProblem[] = [];
  for (const problem of [...found].sort((a, b) => a.index - b.index)) {
    // The last line that starts at or before the index.
    let line = 0;
    for (let high = lineStarts.length - 1; line < high; ) {
      const middle = Math.ceil((line + high) / 2);
      if ((lineStarts[middle] ?? 0) <= problem.index) line = middle;
      else high = middle - 1;
    }
    const key = `${line}:${problem.kind}:${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push({ line: line + 1, column: problem.index - (lineStarts[line] ?? 0) + 1, message: problem.message, kind: problem.kind });
  }
  return problems;
}
