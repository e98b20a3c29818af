import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { PfxReadError, readPfx } from '../certificate/read-pfx.js';
import { InputError } from '../errors.js';
import type { Plan } from '../plan/compile.js';
import { quoteUntrusted } from '../text/untrusted.js';

/**
 * The renewal reads the new PFX on this machine (the import step sends its bytes to Exchange), so a
 * path that does not lead to a readable file is a usage error before anything connects, not a .NET
 * message at step 2. A runbook without a pfxPath param has nothing to check.
 */
export function checkLocalPfx(plan: Plan, cwd: string, flag: string): void {
  const param = plan.params.find((candidate) => candidate.name === 'pfxPath');
  if (param === undefined || typeof param.value !== 'string') return;
  const path = resolve(cwd, param.value);
  const shown = `${flag} ${quoteUntrusted(param.value)}`;
  const hint = 'the PFX is read on the machine that runs exch-cert (it sends the bytes to Exchange): give the path of the file here';
  let kind: string;
  try {
    const stat = statSync(path);
    kind = stat.isFile() ? 'file' : stat.isDirectory() ? 'a folder' : 'not a regular file';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' || code === 'ENOTDIR' ? `${shown}: no such file on this machine (${path})` : `${shown}: cannot read ${path} (${code ?? String(error)})`, hint);
  }
  if (kind !== 'file') throw new InputError(`${shown}: ${path} is ${kind}, not a PFX file`, hint);
  try {
    closeSync(openSync(path, 'r'));
  } catch (error) {
    throw new InputError(`${shown}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, 'check the file\'s permissions for the account that runs exch-cert');
  }
}

/** Checks one secret's value before anything runs. */
export interface SecretCheck {
  /** The secret param it checks. */
  readonly param: string;
  /** Undefined when the value is fine, else what is wrong with it. */
  problem(value: string): string | undefined;
}

/**
 * For the renewal: whether the PFX password opens the PFX, tried here in Node before anything
 * connects, so a wrong one is a usage error (or, typed at the prompt, asked again) instead of a
 * failed import step. Anything else about the file (one Node cannot judge) is left to the import.
 */
export function pfxPasswordCheck(plan: Plan, cwd: string): SecretCheck | undefined {
  const path = plan.params.find((param) => param.name === 'pfxPath')?.value;
  if (typeof path !== 'string' || !plan.secrets.some((secret) => secret.param === 'pfxPassword')) return undefined;
  return {
    param: 'pfxPassword',
    problem: (value) => {
      try {
        readPfx(readFileSync(resolve(cwd, path)), value);
        return undefined;
      } catch (error) {
        // Only a verdict on the password: any other trouble with the file is for the import step (and `exch-cert inspect`).
        return error instanceof PfxReadError && error.code === 'wrong-password' ? `the password does not open ${quoteUntrusted(path)}` : undefined;
      }
    },
  };
}
