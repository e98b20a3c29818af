import { describe, expect, it } from 'vitest';
import { formatPluginFailure, formatPluginOutput, judgeExpiry, overallState, thresholdsFor, type Judgment } from '../../src/tls/expiry.js';

const DAY = 24 * 60 * 60 * 1000;
const NOW = new Date('2026-06-01T12:00:00Z');

/** A certificate of `lifetime` days with `left` days (fractions allowed) to go at NOW. */
function certificate(lifetime: number, left: number, label = 'mail.contoso.com:443') {
  const notAfter = new Date(NOW.getTime() + left * DAY);
  return { label, thumbprint: 'A'.repeat(40), notBefore: new Date(notAfter.getTime() - lifetime * DAY), notAfter };
}

describe('thresholds', () => {
  it('follow the lifetime: min(30, a third) and min(14, a sixth)', () => {
    const of = (lifetime: number) => thresholdsFor(new Date(0), new Date(lifetime * DAY));
    expect(of(47)).toEqual({ warningDays: 47 / 3, criticalDays: 47 / 6 });
    expect(of(100)).toEqual({ warningDays: 30, criticalDays: 14 });
    expect(of(200)).toEqual({ warningDays: 30, criticalDays: 14 });
    expect(of(398)).toEqual({ warningDays: 30, criticalDays: 14 });
    expect(of(60)).toEqual({ warningDays: 20, criticalDays: 10 });
  });

  it('take fixed days where given', () => {
    expect(thresholdsFor(new Date(0), new Date(47 * DAY), { warningDays: 20 })).toEqual({ warningDays: 20, criticalDays: 47 / 6 });
    expect(thresholdsFor(new Date(0), new Date(47 * DAY), { warningDays: 10, criticalDays: 5 })).toEqual({ warningDays: 10, criticalDays: 5 });
  });
});

describe('judgeExpiry at each threshold', () => {
  // [lifetime, whole days left, state]: one day either side of WARNING and of CRITICAL.
  it.each([
    [47, 46, 'OK'],
    [47, 16, 'OK'],
    [47, 15, 'WARNING'],
    [47, 8, 'WARNING'],
    [47, 7, 'CRITICAL'],
    [100, 30, 'OK'],
    [100, 29, 'WARNING'],
    [100, 14, 'WARNING'],
    [100, 13, 'CRITICAL'],
    [398, 30, 'OK'],
    [398, 29, 'WARNING'],
    [398, 14, 'WARNING'],
    [398, 13, 'CRITICAL'],
    [398, 0, 'CRITICAL'],
  ] as const)('a %i-day certificate with %i days left is %s', (lifetime, left, state) => {
    // Half a day more than the whole days: the state follows the whole days shown.
    const judgment = judgeExpiry(certificate(lifetime, left + 0.5), NOW);
    expect(judgment).toMatchObject({ state, daysLeft: left, lifetimeDays: lifetime });
  });

  it('is CRITICAL once expired, and before its validity begins', () => {
    expect(judgeExpiry(certificate(398, -0.001), NOW)).toMatchObject({ state: 'CRITICAL', daysLeft: -1 });
    expect(judgeExpiry(certificate(398, -3.5), NOW, { warningDays: 0, criticalDays: 0 })).toMatchObject({ state: 'CRITICAL', daysLeft: -4 });
    const future = { ...certificate(100, 120), notBefore: new Date(NOW.getTime() + DAY) };
    expect(judgeExpiry(future, NOW)).toMatchObject({ state: 'CRITICAL', notYetValid: true });
  });

  it('uses fixed thresholds instead of the lifetime', () => {
    expect(judgeExpiry(certificate(47, 20.5), NOW, { warningDays: 30 }).state).toBe('WARNING');
    expect(judgeExpiry(certificate(398, 20.5), NOW, { warningDays: 10, criticalDays: 5 }).state).toBe('OK');
    expect(judgeExpiry(certificate(398, 4.5), NOW, { warningDays: 10, criticalDays: 5 }).state).toBe('CRITICAL');
  });
});

describe('plugin output', () => {
  it('is one status line with performance data, as Nagios and Icinga read it', () => {
    const output = formatPluginOutput([judgeExpiry(certificate(398, 90.5), NOW)]);
    expect(output).toBe("EXCH-CERT OK - mail.contoso.com:443 expires 2026-08-31 (90 days) | 'mail.contoso.com:443'=90d;30;14;0;398\n");
  });

  it('puts the worst endpoints first and lets the worst decide', () => {
    const judgments: Judgment[] = [
      judgeExpiry(certificate(398, 90.5, 'mail.contoso.com:443'), NOW),
      judgeExpiry(certificate(47, 10.5, 'mail.contoso.com:993'), NOW),
      { label: 'mail.contoso.com:25', state: 'UNKNOWN', reason: 'connection refused' },
    ];
    expect(formatPluginOutput(judgments)).toBe(
      "EXCH-CERT WARNING - mail.contoso.com:993 expires 2026-06-12 (10 days: WARNING); mail.contoso.com:25 unreachable: connection refused; mail.contoso.com:443 expires 2026-08-31 (90 days) | 'mail.contoso.com:443'=90d;30;14;0;398 'mail.contoso.com:993'=10d;15.67;7.83;0;47\n",
    );
  });

  it('ranks CRITICAL over WARNING over UNKNOWN over OK', () => {
    const state = (...states: Judgment['state'][]) => overallState(states.map((s) => (s === 'UNKNOWN' ? { label: 'x', state: s, reason: 'r' } : { ...judgeExpiry(certificate(398, 90), NOW), state: s })));
    expect(state('OK', 'OK')).toBe('OK');
    expect(state('OK', 'UNKNOWN')).toBe('UNKNOWN');
    expect(state('UNKNOWN', 'WARNING')).toBe('WARNING');
    expect(state('WARNING', 'CRITICAL', 'UNKNOWN')).toBe('CRITICAL');
    expect(overallState([])).toBe('UNKNOWN');
  });

  it('says when a certificate expired', () => {
    expect(formatPluginOutput([judgeExpiry(certificate(398, -2.5), NOW)])).toBe(
      "EXCH-CERT CRITICAL - mail.contoso.com:443 expired 2026-05-30 (3 days ago: CRITICAL) | 'mail.contoso.com:443'=-3d;30;14;0;398\n",
    );
  });

  it('keeps server text on one line and out of the performance data', () => {
    const output = formatPluginOutput([{ label: "it's:25", state: 'UNKNOWN', reason: 'greeted with "x | y\r\n\u001b[1m"' }, judgeExpiry(certificate(100, 50.5, "it's:443"), NOW)]);
    expect(output.split('\n')).toHaveLength(2);
    expect(output).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(output.split('|')).toHaveLength(2);
    expect(output).toContain("'it''s:443'=50d;30;14;0;100");
  });

  it('reports failures before any endpoint as UNKNOWN', () => {
    expect(formatPluginFailure('bad target "x|y\n"')).toBe('EXCH-CERT UNKNOWN - bad target "x\\u007cy\\n"\n');
  });
});
