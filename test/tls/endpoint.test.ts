import { describe, expect, it } from 'vitest';
import { defaultProtocol, endpointLabel, parsePortList, parseTarget } from '../../src/tls/endpoint.js';
import { parseThumbprint, thumbprintOf } from '../../src/tls/thumbprint.js';

describe('ports and protocols', () => {
  it('takes the protocol from the port when none is given', () => {
    expect([25, 587, 143, 110, 443, 993, 995, 8443].map(defaultProtocol)).toEqual(['smtp', 'smtp', 'imap', 'pop3', 'tls', 'tls', 'tls', 'tls']);
  });

  it('reads --port lists with and without protocols', () => {
    expect(parsePortList('443, 2525/smtp,1430/IMAP,110,25/tls')).toEqual([
      { port: 443, protocol: 'tls' },
      { port: 2525, protocol: 'smtp' },
      { port: 1430, protocol: 'imap' },
      { port: 110, protocol: 'pop3' },
      { port: 25, protocol: 'tls' },
    ]);
  });

  it.each(['', '443,', '0', '65536', '44a', '443/ftp', '443/smtp/x', '-1'])('refuses %j', (text) => {
    expect(() => parsePortList(text)).toThrow();
  });

  it('shows refused input escaped', () => {
    expect(() => parsePortList('443/\u001b[31m')).toThrow('"\\e[31m"');
  });
});

describe('targets', () => {
  it('reads HOST[:PORT[/PROTO]], IPv6 in brackets', () => {
    expect(parseTarget('mail.contoso.com')).toEqual({ host: 'mail.contoso.com', port: 443, protocol: 'tls' });
    expect(parseTarget('mail.contoso.com:25')).toEqual({ host: 'mail.contoso.com', port: 25, protocol: 'smtp' });
    expect(parseTarget('127.0.0.1:2525/smtp')).toEqual({ host: '127.0.0.1', port: 2525, protocol: 'smtp' });
    expect(parseTarget('[::1]:993')).toEqual({ host: '::1', port: 993, protocol: 'tls' });
  });

  it.each(['', ':443', 'mail:', 'ma il:443', '[mail]:443', '::1:443', 'mail:443/x', 'a..b', 'host\n'])('refuses %j', (text) => {
    expect(() => parseTarget(text)).toThrow();
  });

  it('labels endpoints as host:port, IPv6 in brackets', () => {
    expect(endpointLabel({ host: 'mail.contoso.com', port: 443 })).toBe('mail.contoso.com:443');
    expect(endpointLabel({ host: '::1', port: 993 })).toBe('[::1]:993');
  });
});

describe('thumbprints', () => {
  const thumbprint = '8A3C5D0E1F2A3B4C5D6E7F8091A2B3C4D5E6F701';

  it.each([
    thumbprint,
    thumbprint.toLowerCase(),
    '8a 3c 5d 0e 1f 2a 3b 4c 5d 6e 7f 80 91 a2 b3 c4 d5 e6 f7 01',
    '8A:3C:5D:0E:1F:2A:3B:4C:5D:6E:7F:80:91:A2:B3:C4:D5:E6:F7:01',
    `\u200e${thumbprint.toLowerCase()}`,
    ` ${thumbprint}\t`,
  ])('reads %j as Exchange shows it', (text) => {
    expect(parseThumbprint(text)).toBe(thumbprint);
  });

  it.each(['', '8A3C', `${thumbprint}00`, thumbprint.replace('8', 'G'), `${thumbprint};`])('refuses %j', (text) => {
    expect(() => parseThumbprint(text)).toThrow(/not a SHA-1 thumbprint/);
  });

  it('says when it was given a SHA-256 fingerprint', () => {
    expect(() => parseThumbprint('ab'.repeat(32))).toThrow(/SHA-256/);
  });

  it('hashes DER with SHA-1', () => {
    expect(thumbprintOf(Buffer.from('abc'))).toBe('A9993E364706816ABA3E25717850C26C9CD0D89D');
  });
});
