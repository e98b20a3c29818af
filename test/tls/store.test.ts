import { describe, expect, it } from 'vitest';
import { formatPluginOutput } from '../../src/tls/expiry.js';
import { judgeStore, parseStoreCertificates, type StoreCertificate } from '../../src/tls/store.js';

const NOW = new Date('2026-06-02T12:00:00Z');
const DAY_MS = 24 * 60 * 60 * 1000;

function record(subject: string, thumbprint: string, daysLeft: number, lifetime: number, uses: string[], inStore = true): string {
  const notAfter = new Date(NOW.getTime() + daysLeft * DAY_MS);
  return JSON.stringify({
    thumbprint,
    subject: inStore ? subject : '',
    notBefore: inStore ? new Date(notAfter.getTime() - lifetime * DAY_MS).toISOString() : '',
    notAfter: inStore ? notAfter.toISOString() : '',
    services: inStore ? 'IMAP, POP, IIS, SMTP' : '',
    // Windows PowerShell 5.1 writes a one-item array as the item.
    uses: uses.length === 1 ? uses[0] : uses,
    inStore,
  });
}

describe('the certificates a server uses, as status --server judges them', () => {
  const certificates = parseStoreCertificates([
    record('CN=mail.contoso.com, O=Contoso Ltd, C=US', 'a'.repeat(40), 10.5, 47, ['IIS Default Web Site *:443:', 'POP']),
    record('CN=mail.contoso.com', 'B'.repeat(40), 100.5, 200, ['IIS Default Web Site 127.0.0.1:443:']),
    record('CN="Contoso, Auth"', 'C'.repeat(40), 300.5, 1826, ['Auth']),
    record('', 'D'.repeat(40), 0, 0, ['IIS Exchange Back End *:444:'], false),
  ]);

  it('reads the JSON texts of list-certificates', () => {
    expect(certificates[0]).toEqual<StoreCertificate>({
      thumbprint: 'A'.repeat(40),
      subject: 'CN=mail.contoso.com, O=Contoso Ltd, C=US',
      notBefore: new Date(NOW.getTime() + (10.5 - 47) * DAY_MS),
      notAfter: new Date(NOW.getTime() + 10.5 * DAY_MS),
      services: 'IMAP, POP, IIS, SMTP',
      uses: ['IIS Default Web Site *:443:', 'POP'],
      inStore: true,
    });
    expect(certificates[2]?.uses).toEqual(['Auth']);
    expect(certificates[3]).toMatchObject({ inStore: false, notAfter: undefined });
  });

  it('refuses what is not such a list, naming the item', () => {
    expect(() => parseStoreCertificates('x')).toThrow('the certificates output is not a list of JSON texts');
    expect(() => parseStoreCertificates(['{'])).toThrow('certificate 1 of the list is not JSON');
    expect(() => parseStoreCertificates([record('CN=x', 'E'.repeat(40), 1, 2, ['Auth']).replace('"inStore":true', '"inStore":"yes"')])).toThrow('certificate 1 of the list: inStore');
    expect(() => parseStoreCertificates([JSON.stringify({ thumbprint: 'F'.repeat(40), subject: 'CN=x', notBefore: '', notAfter: '', services: '', uses: [], inStore: true })])).toThrow('has no validity dates');
  });

  it('labels each by server and CN, tells apart two with one CN, and is UNKNOWN for one the store lacks', () => {
    const judged = judgeStore('EXCH01', certificates, NOW);
    expect(judged.map(({ judgment }) => [judgment.label, judgment.state])).toEqual([
      ['EXCH01 mail.contoso.com (AAAAAAAA)', 'WARNING'],
      ['EXCH01 mail.contoso.com (BBBBBBBB)', 'OK'],
      ['EXCH01 Contoso, Auth', 'OK'],
      [`EXCH01 ${'D'.repeat(40)}`, 'UNKNOWN'],
    ]);
    expect(formatPluginOutput(judged.map(({ judgment }) => judgment))).toBe(
      `EXCH-CERT WARNING - EXCH01 mail.contoso.com (AAAAAAAA) expires 2026-06-13 (10 days: WARNING); EXCH01 ${'D'.repeat(40)}: not in the certificate store of EXCH01, but used for IIS Exchange Back End *:444:; EXCH01 mail.contoso.com (BBBBBBBB) expires 2026-09-11 (100 days); EXCH01 Contoso, Auth expires 2027-03-30 (300 days) | 'EXCH01 mail.contoso.com (AAAAAAAA)'=10d;15.67;7.83;0;47 'EXCH01 mail.contoso.com (BBBBBBBB)'=100d;30;14;0;200 'EXCH01 Contoso, Auth'=300d;30;14;0;1826\n`,
    );
    expect(judgeStore('EXCH01', certificates.slice(0, 1), NOW, { warningDays: 5, criticalDays: 2 })[0]?.judgment.state).toBe('OK');
  });
});
