import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBindingInformation } from '../../src/simulator-tls/rules.js';
import { SIMULATOR_KEY_PASSWORD } from '../../src/simulator-tls/secure-context.js';
import { repoRoot } from '../helpers/plan.js';

describe('the rules of the simulated endpoints', () => {
  it('reads IIS binding information as IIS writes it, IPv6 in brackets', () => {
    expect(parseBindingInformation('*:443:')).toEqual({ ip: '*', port: 443, host: '' });
    expect(parseBindingInformation(':443:mail.contoso.com')).toEqual({ ip: '*', port: 443, host: 'mail.contoso.com' });
    expect(parseBindingInformation('127.0.0.1:443:')).toEqual({ ip: '127.0.0.1', port: 443, host: '' });
    expect(parseBindingInformation('[::1]:8443:')).toEqual({ ip: '::1', port: 8443, host: '' });
    expect(parseBindingInformation('443')).toBeUndefined();
  });

  it("opens the simulator's stored keys with the password its PowerShell side uses", () => {
    const state = readFileSync(join(repoRoot, 'src', 'simulator', 'private', 'state.ps1'), 'utf8');
    expect(/^\$script:KeyPassword = '([^']*)'$/m.exec(state)?.[1]).toBe(SIMULATOR_KEY_PASSWORD);
  });
});
