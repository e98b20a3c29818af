import { EnvironmentError } from '../errors.js';
import type { PwshParser } from '../powershell/pwsh-parser.js';
import type { SyntaxProblem } from '../powershell/syntax.js';

/** Which parser judged the scripts of `powershell` steps. */
export interface ParserInfo {
  readonly name: 'pwsh' | 'builtin';
  /** PowerShell's version, for `pwsh`. */
  readonly version?: string;
  /** The executable, for `pwsh`. */
  readonly path?: string;
  /** Why the built-in checker judged although `auto` looked for a PowerShell. */
  readonly reason?: string;
}

/** Parses the scripts of `powershell` steps; one per lint run, shared by every file. */
export interface ScriptChecker {
  /** The problems of one script, positions within the script. The same script is parsed once. */
  check(script: string): Promise<readonly SyntaxProblem[]>;
  /** Who judged the scripts checked so far; undefined before the first. */
  judge(): ParserInfo | undefined;
  /** Ends what the checker started (a PowerShell process). */
  close(): Promise<void>;
}

/**
 * The built-in checker (tree-sitter-powershell with our scanner): needs no
 * PowerShell. Its grammar is loaded only when a script comes.
 */
export function createBuiltinChecker(reason?: string): ScriptChecker {
  const results = new Map<string, Promise<readonly SyntaxProblem[]>>();
  let used = false;
  return {
    check(script) {
      used = true;
      let result = results.get(script);
      if (result === undefined) {
        result = import('../powershell/syntax.js').then(({ checkScriptSyntax }) => checkScriptSyntax(script));
        results.set(script, result);
      }
      return result;
    },
    judge: () => (used ? { name: 'builtin', ...(reason !== undefined ? { reason } : {}) } : undefined),
    close: () => Promise.resolve(),
  };
}

/**
 * PowerShell's own parser, in one pwsh process started on the first script.
 * With `fallback` (the `auto` choice), a PowerShell that does not start
 * leaves the judging to the built-in checker, and the report says why;
 * without it (`--parser pwsh`), that is an EnvironmentError (exit 3).
 */
export function createPwshChecker(executable: string, options: { fallback: boolean }): ScriptChecker {
  let starting: Promise<PwshParser | undefined> | undefined;
  let started: PwshParser | undefined;
  let builtin: ScriptChecker | undefined;
  let used = false;
  const results = new Map<string, Promise<readonly SyntaxProblem[]>>();
  const start = (): Promise<PwshParser | undefined> => {
    starting ??= import('../powershell/pwsh-parser.js')
      .then(async ({ startPwshParser }) => {
        started = await startPwshParser(executable);
        return started;
      })
      .catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        if (!options.fallback) throw new EnvironmentError(`PowerShell's parser could not start: ${message}`, 'install PowerShell 7, pass --shell PATH, or use --parser builtin');
        builtin = createBuiltinChecker(message);
        return undefined;
      });
    return starting;
  };
  const parse = async (script: string): Promise<readonly SyntaxProblem[]> => {
    const parser = await start();
    if (!parser) return (builtin as ScriptChecker).check(script);
    try {
      return await parser.parse(script);
    } catch (error) {
      throw new EnvironmentError(`PowerShell's parser failed: ${error instanceof Error ? error.message : String(error)}`, 'run lint again, or use --parser builtin');
    }
  };
  return {
    check(script) {
      used = true;
      let result = results.get(script);
      if (result === undefined) {
        result = parse(script);
        results.set(script, result);
      }
      return result;
    },
    judge() {
      if (!used) return undefined;
      if (builtin) return builtin.judge();
      return { name: 'pwsh', path: executable, ...(started ? { version: started.identity.version } : {}) };
    },
    async close() {
      await starting?.catch(() => undefined);
      await started?.close();
    },
  };
}
