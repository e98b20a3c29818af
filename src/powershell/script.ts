/**
 * Small builders for generated PowerShell text. Command and parameter names
 * come only from the compiler; values arrive here already turned into
 * expressions (see quote.ts and actions/input.ts).
 */

const NAME = /^[A-Za-z][A-Za-z0-9-]*$/;

/**
 * A parameter: `true` is a switch, `false`/`undefined` leaves it out, a string
 * is an expression, `{ colon }` binds with a colon (`-Confirm:$false`).
 */
export type ParameterValue = string | boolean | undefined | { readonly colon: string };

/** `-Confirm:$false`: nothing generated may prompt. */
export const NO_CONFIRM = ['Confirm', { colon: '$false' }] as const;

/** `Verb-Noun -Name value -Switch`, on one line. */
export function psCommand(name: string, parameters: ReadonlyArray<readonly [string, ParameterValue]> = []): string {
  assertName(name);
  const parts = [name];
  for (const [parameter, value] of parameters) {
    assertName(parameter);
    if (value === undefined || value === false) continue;
    if (value === true) parts.push(`-${parameter}`);
    else if (typeof value === 'string') parts.push(`-${parameter} ${value}`);
    else parts.push(`-${parameter}:${value.colon}`);
  }
  return parts.join(' ');
}

/**
 * An Exchange cmdlet call, always with `-ErrorAction Stop`: implicit-remoting proxies deliver
 * server-side errors as non-terminating ones, which a local 'Stop' preference does not see.
 */
export function psExchange(name: string, parameters: ReadonlyArray<readonly [string, ParameterValue]> = []): string {
  return psCommand(name, [...parameters, ['ErrorAction', "'Stop'"]]);
}

function assertName(name: string): void {
  // Names are compiler constants; this guards against a programming error, not input.
  if (!NAME.test(name)) throw new Error(`not a PowerShell command or parameter name: ${JSON.stringify(name)}`);
}

/** Indents every non-empty line. */
export function indent(text: string, spaces = 4): string {
  const pad = ' '.repeat(spaces);
  return text
    .split('\n')
    .map((line) => (line === '' ? line : pad + line))
    .join('\n');
}

/** Joins lines, dropping `undefined`/`false` entries so optional lines read naturally at the call site. */
export function lines(...items: ReadonlyArray<string | false | undefined>): string {
  return items.filter((item): item is string => typeof item === 'string').join('\n');
}

/**
 * Code that must run on the Exchange server's operating system (services, IIS).
 * `Invoke-ExchCertHost` (defined in the prologue) runs the block locally when
 * this machine is that server, or with Invoke-Command otherwise. Values travel
 * as arguments, so the block is plain code with a `param()` list.
 */
export function hostBlock(serverExpression: string, parameters: ReadonlyArray<readonly [string, string]>, body: string, options: { verbatim?: boolean } = {}): string {
  for (const [name] of parameters) assertName(name);
  const paramList = parameters.map(([name]) => `$${name}`).join(', ');
  // `@(x)` would unroll a single list argument into many; the unary comma keeps it whole.
  const expressions = parameters.map(([, expression]) => expression);
  const argumentList = expressions.length === 1 ? `@(,${expressions[0] ?? ''})` : `@(${expressions.join(', ')})`;
  return lines(
    `Invoke-ExchCertHost -Server ${serverExpression} -ArgumentList ${argumentList} -ScriptBlock {`,
    // A verbatim body (the author's own script) keeps its lines exactly: see ActionDefinition.verbatimBody.
    options.verbatim ? lines(indent(lines(`param(${paramList})`, "$ErrorActionPreference = 'Stop'")), body) : indent(lines(`param(${paramList})`, "$ErrorActionPreference = 'Stop'", body)),
    '}',
  );
}

/**
 * Text safe inside a `#` line comment: control and line-separator characters
 * are shown as \uXXXX, so no value can end the comment and start code.
 */
export function commentText(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/gu, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Loads the IIS cmdlets unless something already provides them (the
 * simulator, or a session that imported them), so host blocks also run where
 * the WebAdministration module does not exist.
 */
export const IMPORT_WEB_ADMINISTRATION = "if (-not (Get-Command -Name 'Get-WebBinding' -ErrorAction SilentlyContinue)) { Import-Module WebAdministration }";
