import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, shippedRunbookText } from '../helpers/plan.js';

/** The runbooks whose full dry run is kept as a golden script, with their --var values. */
export const GOLDEN_CASES: Array<[string, () => string, Record<string, string>]> = [
  ['renew-certificate', () => shippedRunbookText('renew-certificate'), { server: 'EXCH01', pfxPath: 'C:\\certs\\mail-2026.pfx', fqdn: 'mail.contoso.com' }],
  ['new-self-signed-certificate', () => shippedRunbookText('new-self-signed-certificate'), { server: 'EXCH01', fqdn: 'exch01.contoso.local', bindBackEnd: 'true' }],
  ['validate-exchange', () => shippedRunbookText('validate-exchange'), { server: 'EXCH01' }],
  ['server-certificates', () => shippedRunbookText('server-certificates'), { server: 'EXCH01' }],
  ['exchange-servers', () => shippedRunbookText('exchange-servers'), { server: 'EXCH01' }],
  ['renew-edge-certificate', () => shippedRunbookText('renew-edge-certificate'), { edge: 'EDGE01', mailbox: 'EXCH01', pfxPath: 'C:\\certs\\edge-2026.pfx', fqdn: 'mail.contoso.com' }],
  ['maintenance-mode', () => shippedRunbookText('maintenance-mode'), { server: 'EXCH01', redirectTo: 'EXCH02' }],
  ['catalog', () => readFileSync(join(repoRoot, 'test', 'golden', 'catalog.yaml'), 'utf8'), { server: 'exch01.contoso.com' }],
];
