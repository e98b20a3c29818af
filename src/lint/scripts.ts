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
