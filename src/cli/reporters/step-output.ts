/** What a step printed that an operator should see without --verbose. */
export interface StepNotes {
  /** `WARNING:` lines (Write-Warning), without that prefix: decisions the step took, such as the wildcard one. */
  readonly warnings: readonly string[];
  /** For read-only steps, what they found: exch-cert's own lines (`exch-cert: found ...`). */
  readonly findings: readonly string[];
}

const OWN = /^exch-cert: /;
/** Lines that are not findings: the closing line every block prints (`exch-cert: step health: ok`), which the status line says already, and reconnections. */
const NOT_FINDINGS = /^exch-cert: (?:step \S+: \w+$|connecting to )/;

/**
 * Picks from a step's log what is shown without --verbose: every warning, and, for a step that
 * changes nothing (finding a certificate, checking health), the findings that are its result.
 */
export function stepNotes(log: string, readOnly: boolean): StepNotes {
  const warnings: string[] = [];
  const findings: string[] = [];
  for (const raw of log.split(/\r?\n/)) {
    const line = raw.trimEnd();
    if (line.startsWith('WARNING: ')) warnings.push(line.slice('WARNING: '.length).replace(OWN, ''));
    else if (readOnly && OWN.test(line) && !NOT_FINDINGS.test(line)) findings.push(line.replace(OWN, ''));
  }
  return { warnings, findings };
}

/**
 * Where PowerShell says the error happened. Its line number counts lines of the script the failing
 * command was written in: within the step's block that is the block; a number past the block's end
 * belongs to other code, such as exch-cert's helper functions in the prologue.
 */
export function describeErrorLine(line: number | undefined, script: string | undefined): string {
  if (line === undefined || line <= 0) return '';
  const count = script === undefined || script === '' ? undefined : script.split('\n').length;
  if (count !== undefined && line > count) return ` (PowerShell line ${line}: not in the step's block of ${count} lines, so in code it calls, such as one of exch-cert's helper functions)`;
  return ` (line ${line} of the step's block)`;
}
