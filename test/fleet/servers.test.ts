import { describe, expect, it } from 'vitest';
import { parseServerList, redirectTargets, selectServers, type Inventory } from '../../src/fleet/servers.js';

const ORG: Inventory = { askedOf: 'EXCH01', mailbox: ['EXCH01', 'EXCH02', 'EXCH03'], mailboxFqdns: ['EXCH01.contoso.com', 'EXCH02.contoso.com', 'EXCH03.contoso.com'], edge: ['EDGE01'] };

describe('the servers of a fleet run', () => {
  it('parses --server A,B and refuses empty, malformed and repeated names', () => {
    expect(parseServerList('EXCH01, exch02.contoso.com')).toEqual(['EXCH01', 'exch02.contoso.com']);
    expect(() => parseServerList('EXCH01,,EXCH02')).toThrow('has an empty name');
    expect(() => parseServerList('EXCH01,EX CH02')).toThrow('"EX CH02" is not a server name');
    expect(() => parseServerList('EXCH01,exch01.contoso.com')).toThrow('--server names exch01.contoso.com twice');
  });

  it('takes the servers named, as Exchange spells them, in the order given', () => {
    expect(selectServers(['exch02', 'EXCH01.contoso.com'], false, ORG)).toEqual([
      { name: 'EXCH02', fqdn: 'EXCH02.contoso.com' },
      { name: 'EXCH01', fqdn: 'EXCH01.contoso.com' },
    ]);
  });

  it('with --all-servers adds every other Mailbox server after those named, never the Edge', () => {
    expect(selectServers(['EXCH02'], true, ORG).map((server) => server.name)).toEqual(['EXCH02', 'EXCH01', 'EXCH03']);
  });

  it('refuses a server the organisation does not have, and an Edge Transport server, before anything runs', () => {
    expect(() => selectServers(['EXCH01', 'EXCH09'], false, ORG)).toThrow('EXCH09 is not a Mailbox server of this organisation: Get-ExchangeServer on EXCH01 lists EXCH01, EXCH02, EXCH03 (Edge Transport: EDGE01); nothing was changed');
    expect(() => selectServers(['EDGE01'], false, ORG)).toThrow('EDGE01 is an Edge Transport server; a renewal of the Mailbox servers never includes it');
  });

  it('drains the canary to the next server and every other to the canary', () => {
    const servers = selectServers(['EXCH01', 'EXCH02', 'EXCH03'], false, ORG);
    expect([...redirectTargets(servers, ORG)]).toEqual([
      ['EXCH01', 'EXCH02'],
      ['EXCH02', 'EXCH01'],
      ['EXCH03', 'EXCH01'],
    ]);
    expect([...redirectTargets(selectServers(['EXCH03'], false, ORG), ORG)]).toEqual([['EXCH03', 'EXCH01']]);
    const alone: Inventory = { ...ORG, mailbox: ['EXCH01'], mailboxFqdns: ['EXCH01.contoso.com'] };
    expect(() => redirectTargets(selectServers(['EXCH01'], false, alone), alone)).toThrow('--drain needs another Mailbox server to take the messages queued on EXCH01');
  });
});
