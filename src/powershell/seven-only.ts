/**
 * PowerShell 7-only syntax, as both script checkers report it: the built-in
 * one (syntax.ts) and PowerShell's own parser (pwsh-parser.ts) use the same
 * words, so a report reads the same whichever judged.
 */

/** The 7-only operators. */
export type Operator = '&&' | '||' | '??' | '??=' | '?.' | '?[' | '?';

/** What each 7-only operator is reported as, by either parser. */
export const OPERATOR_MESSAGES: Record<Operator, string> = {
  '&&': "'&&' is PowerShell 7 only; Windows PowerShell 5.1 cannot parse it (use 'if ($?) { ... }' or separate statements)",
  '||': "'||' is PowerShell 7 only; Windows PowerShell 5.1 cannot parse it (use 'if (-not $?) { ... }')",
  '??': "'??' is PowerShell 7 only; Windows PowerShell 5.1 cannot parse it (use 'if ($null -eq $a) { ... }')",
  '??=': "'??=' is PowerShell 7 only; Windows PowerShell 5.1 cannot parse it",
  '?.': "'?.' is PowerShell 7 only; Windows PowerShell 5.1 cannot parse it",
  '?[': "'?[' is PowerShell 7 only; Windows PowerShell 5.1 cannot parse it",
  '?': "the ternary operator 'a ? b : c' is PowerShell 7 only; Windows PowerShell 5.1 cannot parse it (use if/else)",
};

/** Constructs other than operators. */
export const SEVEN_ONLY_MESSAGES = {
  leadingPipe: "a line that starts with '|' continues the pipeline only in PowerShell 7; Windows PowerShell 5.1 cannot parse it (end the previous line with '|' instead)",
  genericMethod: "generic method calls ('Method[T]()') are PowerShell 7.3+ only; Windows PowerShell 5.1 cannot parse them (use reflection, or a cast)",
  clean: "'clean { }' blocks are PowerShell 7.3+ only; Windows PowerShell 5.1 does not know them",
  enumType: "an enum's underlying type ('enum E : byte') is PowerShell 7 only; Windows PowerShell 5.1 cannot parse it (leave the type out)",
  background: "the background operator ('command &') is PowerShell 7 only; Windows PowerShell 5.1 cannot parse it (use Start-Job)",
} as const;

/** `$IsWindows` and its kin: `$null` on Windows PowerShell 5.1. */
export function sevenOnlyVariableMessage(name: string): string {
  return `'$${name}' exists only in PowerShell 6 and later; in Windows PowerShell 5.1 it is $null`;
}

/** The message for a 7-only parameter of a command; PowerShell accepts any unambiguous prefix of a name. */
export function parameterMessage(command: string, parameterToken: string): string | undefined {
  const name = command.toLowerCase();
  const parameter = parameterToken.slice(1).replace(/:$/, '').toLowerCase();
  if ((name === 'foreach-object' || name === 'foreach' || name === '%') && parameter.length >= 2 && 'parallel'.startsWith(parameter)) {
    return "'ForEach-Object -Parallel' is PowerShell 7 only; Windows PowerShell 5.1 has no such parameter";
  }
  if (name === 'convertfrom-json' && parameter.length >= 2 && 'ashashtable'.startsWith(parameter)) {
    return "'ConvertFrom-Json -AsHashtable' is PowerShell 6+ only; Windows PowerShell 5.1 has no such parameter";
  }
  if (parameter === 'asbytestream') return "'-AsByteStream' is PowerShell 6+ only; Windows PowerShell 5.1 uses '-Encoding Byte'";
  return undefined;
}
