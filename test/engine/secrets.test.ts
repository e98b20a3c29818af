import { describe, expect, it } from 'vitest';
import { collectSecrets } from '../../src/engine/secrets.js';
import { InputError } from '../../src/errors.js';
import { planFromText, shippedRunbookText } from '../helpers/plan.js';

const vars = { server: 'EXCH01', pfxPath: 'C:\\a.pfx', fqdn: 'mail.contoso.com' };

describe('collectSecrets', () => {
  it('takes exactly the secrets the plan reads, for the shell and for masking', async () => {
    const plan = await planFromText(shippedRunbookText('renew-certificate'), vars);
    const secrets = collectSecrets(plan, { EXCH_CERT_PFX_PASSWORD: 'one', EXCH_CERT_BACKUP_PASSWORD: 'two', HOME: '/root', AWS_SECRET: 'no' });
    expect(secrets.shellEnv).toEqual({ EXCH_CERT_PFX_PASSWORD: 'one', EXCH_CERT_BACKUP_PASSWORD: 'two' });
    expect(secrets.values).toEqual(['one', 'two']);
  });

  it('lists every missing secret before anything runs', async () => {
    const plan = await planFromText(shippedRunbookText('renew-certificate'), vars, { kind: 'remote', server: 'EXCH01', credentialEnv: { user: 'U', password: 'P' } });
    const error = (() => {
      try {
        collectSecrets(plan, { U: 'admin' });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toBe(
      [
        'missing secrets, nothing was run:',
        'secret pfxPassword: set the environment variable EXCH_CERT_PFX_PASSWORD',
        'secret backupPassword: set the environment variable EXCH_CERT_BACKUP_PASSWORD',
        'the password of --credential-env: set the environment variable P',
      ].join('\n'),
    );
  });
});
