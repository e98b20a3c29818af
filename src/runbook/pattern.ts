import { RE2JS } from 're2js';

/** A param pattern, compiled for whole-value matching in time linear in the value's length. */
export type CompiledPattern =
  | { readonly ok: true; readonly matches: (value: string) => boolean }
  | { readonly ok: false; readonly reason: string };

const cache = new Map<string, CompiledPattern>();

/**
 * Compiles a runbook's `pattern` with RE2 (re2js), never with the
 * backtracking RegExp engine: a pattern such as `^(a+)+$` would otherwise
 * take exponential time on a value from the command line. JavaScript escapes
 * (`\u00e9`) are translated first; backreferences and lookaround, which no
 * linear-time engine has, are refused with RE2's reason.
 */
export function compileParamPattern(pattern: string): CompiledPattern {
  let compiled = cache.get(pattern);
  if (compiled === undefined) {
    compiled = compile(pattern);
    cache.set(pattern, compiled);
  }
  return compiled;
}

function compile(pattern: string): CompiledPattern {
  try {
    const regex = RE2JS.compile(RE2JS.translateRegExp(pattern));
    return { ok: true, matches: (value) => regex.testExact(value) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, reason: message.replace(/^error parsing regexp: /, '') };
  }
}
