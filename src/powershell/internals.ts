/**
 * What a `powershell` step's script must not touch: exch-cert's own state
 * (`$global:ExchCert` holds the secrets, the session and every output) and
 * what exposes it. A guard against mistakes and casual misuse in reviewed
 * runbooks, not a sandbox: a script is code and can do anything code can.
 */

/** `$ExchCert`, `$global:ExchCert`, `${script:ExchCert}`, `$variable:ExchCert`; not `$ExchCertArguments`. */
const INTERNAL_VARIABLE = /^(?:(?:global|script|local|private|variable):)*ExchCert$/i;

/** Commands that read the state or the script blocks around the step. */
const INTERNAL_COMMANDS = new Map<string, string>([
  ['get-pscallstack', "Get-PSCallStack shows exch-cert's own script blocks around the step"],
  ['read-exchcertsecret', 'Read-ExchCertSecret reads the secrets exch-cert was given'],
  ['read-exchcertpfx', 'Read-ExchCertPfx is exch-cert’s own helper for the PFX and its password'],
  ['invoke-exchcertstep', 'Invoke-ExchCertStep is how exch-cert runs steps'],
  ['invoke-exchcerthost', 'Invoke-ExchCertHost is exch-cert’s own remoting helper'],
]);

/** Commands that reach a variable by name: `Get-Variable ExchCert`, `Get-Item variable:ExchCert`. */
const BY_NAME = new Set(['get-variable', 'gv', 'set-variable', 'sv', 'remove-variable', 'rv', 'clear-variable', 'clv', 'get-item', 'gi', 'get-childitem', 'gci', 'dir', 'ls', 'get-content', 'gc']);
const NAMES_THE_STATE = /(?:^|[\s'"`:,])ExchCert(?![\p{L}\p{N}_])/iu;

export const INTERNALS_HINT = 'pass values in through arguments ($ExchCertArguments) and set outputs with Set-ExchCertOutput';

/** The message for a variable reference (its path as written, without `$`), or undefined when it is not exch-cert's. */
export function internalVariableMessage(path: string): string | undefined {
  if (!INTERNAL_VARIABLE.test(path)) return undefined;
  return `'$${path}' is exch-cert's own state (secrets, session, outputs); a script must not read or change it`;
}

/** The message for a command (its name and full text), or undefined when it does not touch exch-cert's internals. */
export function internalCommandMessage(name: string, text: string): string | undefined {
  const lower = name.toLowerCase();
  const known = INTERNAL_COMMANDS.get(lower);
  if (known !== undefined) return `${known}; a script must not use it`;
  if (BY_NAME.has(lower) && NAMES_THE_STATE.test(text.slice(name.length))) return `'${name}' reaches exch-cert's own state ($ExchCert) by name; a script must not read or change it`;
  return undefined;
}

/** A cheap test before looking at the syntax tree. */
export function mayTouchInternals(script: string): boolean {
  return /ExchCert|PSCallStack/i.test(script);
}
