/**
 * The terminal reporter without a terminal: the summary table, what a step printed that shows
 * without --verbose, where an error happened, links to docs/pitfalls.md, and the elapsed time of a
 * long step (spinner text, or a line a minute in CI), with a fake clock.
 */
import { Chalk } from 'chalk';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Ora } from 'ora';
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunEvent, StepStatus } from '../../src/engine/events.js';
import type { Plan } from '../../src/plan/compile.js';
import { PITFALL_ANCHORS } from '../../src/cli/pitfalls.js';
import { TextReporter, duration, type ReporterTimer } from '../../src/cli/reporters/text.js';
import { describeErrorLine, stepNotes } from '../../src/cli/reporters/step-output.js';
import { planFromText, repoRoot, shippedRunbookText } from '../helpers/plan.js';

let renew: Plan;
let validate: Plan;

beforeAll(async () => {
  renew = await planFromText(shippedRunbookText('renew-certificate'), { server: 'EXCH01', pfxPath: 'C:\\certs\\new.pfx', fqdn: 'mail.contoso.com' });
  validate = await planFromText(shippedRunbookText('validate-exchange'), { server: 'EXCH01' });
});

class FakeTimer implements ReporterTimer {
  time = 0;
  private ticks: Array<{ ms: number; next: number; tick: () => void; live: boolean }> = [];
  now(): number {
    return this.time;
  }
  every(ms: number, tick: () => void): () => void {
    const entry = { ms, next: this.time + ms, tick, live: true };
    this.ticks.push(entry);
    return () => (entry.live = false);
  }
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this.ticks.filter((entry) => entry.live && entry.next <= end).sort((a, b) => a.next - b.next)[0];
      if (!due) break;
      this.time = due.next;
      due.next += due.ms;
      due.tick();
    }
    this.time = end;
  }
}

function reporter(plan: Plan, options: { verbose?: boolean; spinner?: boolean } = {}) {
  let stderr = '';
  const spinnerTexts: string[] = [];
  const timer = new FakeTimer();
  const createSpinner = options.spinner
    ? (text: string): Ora => {
        const spinner = {
          set text(value: string) {
            spinnerTexts.push(value);
          },
          start: () => (spinnerTexts.push(text), spinner),
          stop: () => spinner,
          stopAndPersist: ({ symbol, text: final }: { symbol: string; text: string }) => ((stderr += `${symbol} ${final}\n`), spinner),
        };
        return spinner as unknown as Ora;
      }
    : undefined;
  const io = { stdout: { write: () => true }, stderr: { write: (text: string) => ((stderr += text), true) }, env: {}, cwd: repoRoot };
  const text = new TextReporter(io, { color: new Chalk({ level: 0 }), interactive: options.spinner === true }, { plan, createSpinner, verbose: options.verbose === true, pitfalls: 'docs/pitfalls.md', timer });
  return { text, timer, output: () => stderr, spinnerTexts };
}

const started = (stepId: string, position: number, total: number, phase: 'steps' | 'onFailure' = 'steps'): RunEvent => ({ type: 'step-started', stepId, phase, position, total, title: stepId, attempt: 1 });
const finished = (stepId: string, status: StepStatus, extra: Partial<Extract<RunEvent, { type: 'step-finished' }>> = {}): RunEvent => ({
  type: 'step-finished',
  stepId,
  phase: 'steps',
  position: 1,
  total: 11,
  title: stepId,
  status,
  attempts: status === 'skipped' ? 0 : 1,
  durationMs: status === 'skipped' ? 0 : 1200,
  outputs: {},
  ...extra,
});
const runFinished: RunEvent = { type: 'run-finished', outcome: 'failed', exitCode: 1, durationMs: 5000, message: 'step import failed', counts: { ok: 1, changed: 0, skipped: 1, failed: 1, timed_out: 0 }, serverLeftChanged: false };

describe('the summary table', () => {
  it('aligns onFailure rows, and a skipped step shows no tries and no time', () => {
    const { text, output } = reporter(renew);
    text.emit(finished('find-old', 'ok'));
    text.emit(finished('import', 'failed', { attempts: 2 }));
    text.emit(finished('rebind-old', 'ok', { phase: 'onFailure', position: 1, total: 2 }));
    text.emit(finished('rollback-iis-reset', 'skipped', { phase: 'onFailure', position: 2, total: 2 }));
    text.emit(runFinished);
    const table = output().split('\n\n')[1]?.split('\n') ?? [];
    expect(table).toEqual([
      'step                            status     tries     time',
      'find-old                        ok             1     1.2s',
      'import                          failed         2     1.2s',
      'rebind-old (onFailure)          ok             1     1.2s',
      'rollback-iis-reset (onFailure)  skipped',
    ]);
  });
});

describe('what a step printed, without --verbose', () => {
  const enableLog = [
    'WARNING: exch-cert: wildcard certificate: POP and IMAP are not enabled here; set their X509CertificateName instead',
    'exch-cert: internal transport certificate kept at 9F1F60A9A304C34C0000E3475315204FD2F1849A',
    'exch-cert: step enable: changed',
  ].join('\n');

  it('shows the warning of a changing step (the wildcard decision), with its pitfall, but not its chatter', () => {
    const { text, output } = reporter(renew);
    text.emit(finished('enable', 'changed', { log: enableLog }));
    expect(output()).toContain('  warning: wildcard certificate: POP and IMAP are not enabled here; set their X509CertificateName instead\n');
    expect(output()).toContain('  more: docs/pitfalls.md#pop-and-imap-with-a-wildcard-certificate\n');
    expect(output()).not.toContain('internal transport certificate kept');
    expect(output()).not.toContain('step enable: changed');
  });

  it('shows the findings of read-only steps as their result: which certificate serves 443 and 444, health', () => {
    const { text, output } = reporter(validate);
    text.emit(finished('front-end', 'ok', { log: 'exch-cert: found 409B6B96 CN=mail.contoso.com, services IMAP, POP, IIS, SMTP, valid until 2027-03-01 10:46:40Z\nexch-cert: step front-end: ok' }));
    text.emit(finished('back-end', 'ok', { log: 'exch-cert: found 4B86D742 CN=EXCH01, services IIS, SMTP, valid until 2029-12-01 10:46:39Z\nexch-cert: step back-end: ok' }));
    text.emit(finished('health', 'ok', { log: 'exch-cert: connecting to Exchange on EXCH01 again\nexch-cert: Mailbox Server Role: required services running: True\nexch-cert: step health: ok' }));
    expect(output()).toContain('  found 409B6B96 CN=mail.contoso.com, services IMAP, POP, IIS, SMTP, valid until 2027-03-01 10:46:40Z\n');
    expect(output()).toContain('  found 4B86D742 CN=EXCH01, services IIS, SMTP, valid until 2029-12-01 10:46:39Z\n');
    expect(output()).toContain('  Mailbox Server Role: required services running: True\n');
    expect(output()).not.toContain('connecting to Exchange');
    expect(output()).not.toContain('step health: ok');
  });

  it('with --verbose, shows everything a step printed', () => {
    const { text, output } = reporter(renew, { verbose: true });
    text.emit(finished('enable', 'changed', { log: enableLog }));
    expect(output()).toContain('  | exch-cert: internal transport certificate kept at 9F1F60A9A304C34C0000E3475315204FD2F1849A\n');
  });

  it('escapes control characters that came from PowerShell', () => {
    const { text, output } = reporter(validate);
    text.emit(finished('front-end', 'ok', { log: 'exch-cert: found CN=evil\u001b[31m\u202e' }));
    expect(output()).toContain('  found CN=evil\\e[31m\\u202e\n');
  });
});

describe('a failed step', () => {
  it('links the pitfall that explains a known failure', () => {
    const { text, output } = reporter(renew);
    text.emit(finished('import', 'failed', { error: { message: 'exch-cert: cannot open the PFX: the password is wrong, or ...: The specified network password is not correct.', line: 3 } }));
    expect(output()).toContain("  exch-cert: cannot open the PFX: the password is wrong, or ...: The specified network password is not correct. (line 3 of the step's block)\n");
    expect(output()).toContain('  more: docs/pitfalls.md#openssl-3-pfx-files-on-windows-server-2016\n');
  });

  it('links the backup pitfall only for a failed backup', () => {
    const { text, output } = reporter(renew);
    text.emit(finished('backup-old', 'failed', { error: { message: 'The private key is not exportable' } }));
    expect(output()).toContain('  more: docs/pitfalls.md#the-old-certificate-cannot-be-backed-up\n');
    const other = reporter(renew);
    other.text.emit(finished('import', 'failed', { error: { message: 'The private key is not exportable' } }));
    expect(other.output()).not.toContain('the-old-certificate-cannot-be-backed-up');
  });

  it('does not claim a line of the step block that the block does not have', () => {
    const script = renew.steps.find((step) => step.id === 'import')?.script;
    const lines = script?.split('\n').length ?? 0;
    expect(lines).toBeGreaterThan(3);
    expect(describeErrorLine(3, script)).toBe(" (line 3 of the step's block)");
    expect(describeErrorLine(lines + 60, script)).toBe(` (PowerShell line ${lines + 60}: not in the step's block of ${lines} lines, so in code it calls, such as one of exch-cert's helper functions)`);
    expect(describeErrorLine(undefined, script)).toBe('');
  });
});

describe('a long step', () => {
  it('on a terminal, the spinner counts the seconds and names the timeout', () => {
    const { text, timer, spinnerTexts } = reporter(renew, { spinner: true });
    text.emit(started('restart-pop-imap', 6, 11));
    timer.advance(65_000);
    expect(spinnerTexts[0]).toBe('[6/11] restart-pop-imap: restart-pop-imap (0s, timeout 10m per attempt)');
    expect(spinnerTexts).toContain('[6/11] restart-pop-imap: restart-pop-imap (1m5s, timeout 10m per attempt)');
    text.emit(finished('restart-pop-imap', 'changed'));
    const count = spinnerTexts.length;
    timer.advance(10_000);
    // Finished: no more redraws.
    expect(spinnerTexts).toHaveLength(count);
  });

  it('a step with no timeout says so', () => {
    const { text, timer, spinnerTexts } = reporter(renew, { spinner: true });
    text.emit(started('find-old', 1, 11));
    timer.advance(2_000);
    expect(spinnerTexts.at(-1)).toBe('[1/11] find-old: find-old (2s, no timeout)');
  });

  it('without a terminal (CI), says every minute that the step still runs', () => {
    const { text, timer, output } = reporter(renew);
    text.emit(started('iis-reset', 8, 11));
    timer.advance(150_000);
    expect(output()).toBe(['[8/11] iis-reset: iis-reset ...', '  iis-reset: still running after 1m (timeout 10m per attempt)', '  iis-reset: still running after 2m (timeout 10m per attempt)', ''].join('\n'));
  });

  it('writes durations as a runbook does', () => {
    expect([0, 999, 42_000, 300_000, 330_000, 3_720_000].map(duration)).toEqual(['0s', '0s', '42s', '5m', '5m30s', '1h2m']);
  });
});

describe('stepNotes', () => {
  it('keeps warnings for every step and findings only for read-only ones', () => {
    expect(stepNotes('WARNING: careful\nexch-cert: found X\nexch-cert: step a: ok', false)).toEqual({ warnings: ['careful'], findings: [] });
    expect(stepNotes('WARNING: careful\r\nexch-cert: found X\r\nplain text\nexch-cert: step a: ok', true)).toEqual({ warnings: ['careful'], findings: ['found X'] });
  });
});

describe('docs/pitfalls.md', () => {
  /** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
  const slug = (heading: string): string =>
    heading
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s-]/gu, '')
      .replace(/\s/g, '-');
  const text = readFileSync(join(repoRoot, 'docs', 'pitfalls.md'), 'utf8');
  const anchors = [...text.matchAll(/^## (.+)$/gm)].map((match) => slug(match[1] ?? ''));

  it('has a heading for every anchor exch-cert prints', () => {
    for (const anchor of PITFALL_ANCHORS) expect(anchors).toContain(anchor);
  });

  it('says for each pitfall what you see, why, and what exch-cert does', () => {
    const sections = text.split(/^## /m).slice(1);
    expect(sections.length).toBeGreaterThanOrEqual(20);
    for (const section of sections) {
      for (const part of ['**Symptom.**', '**Cause.**', '**What exch-cert does.**']) expect(section, section.split('\n')[0]).toContain(part);
    }
  });

  it('speaks in words: no bare pitfall numbers', () => {
    expect(text).not.toMatch(/\bP\d{1,2}\b/);
  });
});
