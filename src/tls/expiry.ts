import { escapeControls } from '../text/untrusted.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** A certificate as monitoring judges it: from a handshake, or from a server's store. */
export interface CertificateFacts {
  /** What the line and performance data call it: `mail.contoso.com:443`, or a store record's name. */
  readonly label: string;
  readonly thumbprint: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** `--warning` and `--critical`: fixed days instead of the lifetime-based defaults. */
export interface FixedThresholds {
  readonly warningDays?: number;
  readonly criticalDays?: number;
}

/** Nagios/Icinga plugin states, with their exit codes. */
export const MONITORING_EXIT_CODES = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 } as const;
export type MonitoringState = keyof typeof MONITORING_EXIT_CODES;

export interface ExpiryJudgment {
  readonly label: string;
  readonly state: Exclude<MonitoringState, 'UNKNOWN'>;
  readonly thumbprint: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Whole days left, rounded down; negative once expired. The state is judged on this number, as the performance data shows it. */
  readonly daysLeft: number;
  readonly warningDays: number;
  readonly criticalDays: number;
  readonly lifetimeDays: number;
  /** The certificate's validity has not begun. */
  readonly notYetValid: boolean;
}

export interface UnknownJudgment {
  readonly label: string;
  readonly state: 'UNKNOWN';
  readonly reason: string;
  /** An endpoint that could not be reached (the default), or a certificate that cannot be judged (a store's). */
  readonly kind?: 'unreachable' | 'unjudged';
}

export type Judgment = ExpiryJudgment | UnknownJudgment;

/**
 * WARNING below min(30 days, a third of the lifetime), CRITICAL below
 * min(14 days, a sixth), so that a 47-day certificate is green for most of
 * its life (P19); fixed days where given.
 */
export function thresholdsFor(notBefore: Date, notAfter: Date, fixed: FixedThresholds = {}): { warningDays: number; criticalDays: number } {
  const lifetimeDays = Math.max(0, notAfter.getTime() - notBefore.getTime()) / DAY_MS;
  return {
    warningDays: fixed.warningDays ?? Math.min(30, lifetimeDays / 3),
    criticalDays: fixed.criticalDays ?? Math.min(14, lifetimeDays / 6),
  };
}

/** Judges one certificate's expiry at `now`; pure. */
export function judgeExpiry(facts: CertificateFacts, now: Date, fixed: FixedThresholds = {}): ExpiryJudgment {
  const { warningDays, criticalDays } = thresholdsFor(facts.notBefore, facts.notAfter, fixed);
  const daysLeft = Math.floor((facts.notAfter.getTime() - now.getTime()) / DAY_MS);
  const notYetValid = now.getTime() < facts.notBefore.getTime();
  const state = notYetValid || daysLeft < criticalDays || now.getTime() > facts.notAfter.getTime() ? 'CRITICAL' : daysLeft < warningDays ? 'WARNING' : 'OK';
  return {
    label: facts.label,
    state,
    thumbprint: facts.thumbprint,
    notBefore: facts.notBefore,
    notAfter: facts.notAfter,
    daysLeft,
    warningDays,
    criticalDays,
    lifetimeDays: Math.round((facts.notAfter.getTime() - facts.notBefore.getTime()) / DAY_MS),
    notYetValid,
  };
}

// The order of monitoring-plugins' max_state_alt: a finding outranks an endpoint that could not be checked.
const SEVERITY: Record<MonitoringState, number> = { OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3 };

/** The state of the whole check: the worst endpoint's (CRITICAL > WARNING > UNKNOWN > OK); UNKNOWN when there is none. */
export function overallState(judgments: readonly Judgment[]): MonitoringState {
  if (judgments.length === 0) return 'UNKNOWN';
  return judgments.reduce<MonitoringState>((worst, judgment) => (SEVERITY[judgment.state] > SEVERITY[worst] ? judgment.state : worst), 'OK');
}

/**
 * The plugin's output: one status line, worst endpoints first, then the
 * performance data after `|` (days left; warning; critical; 0; lifetime).
 */
export function formatPluginOutput(judgments: readonly Judgment[]): string {
  const state = overallState(judgments);
  const ordered = [...judgments].sort((a, b) => SEVERITY[b.state] - SEVERITY[a.state]);
  const items = ordered.map(describe);
  const perfdata = judgments.flatMap((judgment) =>
    judgment.state === 'UNKNOWN' ? [] : [`'${judgment.label.replace(/'/g, "''")}'=${judgment.daysLeft}d;${days(judgment.warningDays)};${days(judgment.criticalDays)};0;${judgment.lifetimeDays}`],
  );
  const line = `EXCH-CERT ${state} - ${items.length > 0 ? items.join('; ') : 'no endpoints'}`;
  return `${line}${perfdata.length > 0 ? ` | ${perfdata.join(' ')}` : ''}\n`;
}

/** An UNKNOWN plugin line for a failure before any endpoint was judged (bad arguments, a bug). */
export function formatPluginFailure(reason: string): string {
  return `EXCH-CERT UNKNOWN - ${lineText(reason)}\n`;
}

function describe(judgment: Judgment): string {
  const label = lineText(judgment.label);
  if (judgment.state === 'UNKNOWN') return `${label}${judgment.kind === 'unjudged' ? ':' : ' unreachable:'} ${lineText(judgment.reason)}`;
  const mark = judgment.state === 'OK' ? '' : `: ${judgment.state}`;
  if (judgment.notYetValid) return `${label} not valid before ${date(judgment.notBefore)}${mark}`;
  if (judgment.daysLeft < 0) return `${label} expired ${date(judgment.notAfter)} (${-judgment.daysLeft} ${judgment.daysLeft === -1 ? 'day' : 'days'} ago${mark})`;
  return `${label} expires ${date(judgment.notAfter)} (${judgment.daysLeft} ${judgment.daysLeft === 1 ? 'day' : 'days'}${mark})`;
}

/** One line, no control characters, and no `|`, which would start the performance data. Messages come escaped already; this is the last guard. */
function lineText(text: string): string {
  return escapeControls(text).replace(/\|/g, '\\u007c');
}

const date = (value: Date): string => value.toISOString().slice(0, 10);

/** At most two decimals: 30, 15.67. */
const days = (value: number): string => String(Math.round(value * 100) / 100);
