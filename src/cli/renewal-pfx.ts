import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { InputError } from '../errors.js';
import type { Plan } from '../plan/compile.js';
import { escapeUntrusted } from '../text/untrusted.js';
import type { CliIo, Terminal } from './terminal.js';

/** The param values of a plan that `renew` reads, when they are set. */
function paramOf(plan: Plan, name: string): string | readonly string[] | undefined {
  const value = plan.params.find((param) => param.name === name)?.value;
  return typeof value === 'string' || Array.isArray(value) ? (value as string | readonly string[]) : undefined;
}

/**
 * The renewal's plan-time preflight of the new certificate: the PFX is on this machine, so before
 * anything connects it is read and checked as `exch-cert inspect` checks it (the names clients
 * use, validity, key, signature, protection). A PFX that does not fit stops the renewal here with
 * exit 2. A dry run checks it when the file and its password are there, and otherwise says so.
 */
export async function checkRenewalPfx(plan: Plan, options: { readonly dryRun: boolean }, io: CliIo, terminal: Terminal): Promise<void> {
  const path = paramOf(plan, 'pfxPath');
  const fqdn = paramOf(plan, 'fqdn');
  const services = paramOf(plan, 'services');
  if (typeof path !== 'string') return;
  const file = resolve(io.cwd, path);
  const password = io.env['EXCH_CERT_PFX_PASSWORD'];
  const { color } = terminal;
  if (!existsSync(file) || !password) {
    if (options.dryRun) {
      io.stderr.write(color.dim(`exch-cert: the new certificate was not checked (${existsSync(file) ? 'EXCH_CERT_PFX_PASSWORD is not set' : `${escapeUntrusted(path)} is not on this machine`}); the run checks it before it connects\n`));
      return;
    }
    if (!existsSync(file)) throw new InputError(`--pfx ${escapeUntrusted(path)}: no such file on this machine`, 'give the path of the new PFX on the machine that runs exch-cert');
    // A missing password is reported with the other missing secrets.
    return;
  }
  if (!statSync(file).isFile()) throw new InputError(`--pfx ${escapeUntrusted(path)} is not a file`);
  const { dnsNamesOf, inspectPfx, isUnfit, PfxReadError } = await import('../certificate/index.js');
  let inspection;
  try {
    inspection = inspectPfx(readFileSync(file), password, {
      now: new Date(),
      ...(typeof fqdn === 'string' ? { fqdns: [fqdn] } : {}),
      ...(Array.isArray(services) ? { services: (services as readonly string[]).filter((service): service is 'IIS' | 'SMTP' | 'POP' | 'IMAP' => ['IIS', 'SMTP', 'POP', 'IMAP'].includes(service)) } : {}),
    });
  } catch (error) {
    // A run reports a wrong password as a wrong secret (and asks again at a prompt): see pfxPasswordCheck.
    if (error instanceof PfxReadError && error.code === 'wrong-password' && !options.dryRun) return;
    if (error instanceof PfxReadError) throw new InputError(`--pfx ${escapeUntrusted(path)}: ${error.message}; nothing was run`, 'check the file and EXCH_CERT_PFX_PASSWORD (exch-cert inspect PFX shows what it holds)');
    throw error;
  }
  const { certificate } = inspection.pfx;
  io.stderr.write(
    `${color.bold('new certificate:')} ${certificate.thumbprint} ${escapeUntrusted(certificate.subject)}, for ${dnsNamesOf(certificate).map(escapeUntrusted).join(', ') || '(no DNS names)'}, valid until ${certificate.notAfter}\n`,
  );
  for (const finding of inspection.findings) {
    const label = finding.severity === 'error' ? color.red('error') : finding.severity === 'warning' ? color.yellow('warning') : color.dim('note');
    io.stderr.write(`  ${label}: ${escapeUntrusted(finding.message)} [${finding.ruleId}]\n`);
    if (finding.hint && finding.severity === 'error') io.stderr.write(`    ${color.cyan('hint:')} ${escapeUntrusted(finding.hint)}\n`);
  }
  if (isUnfit(inspection.findings, false)) {
    const errors = inspection.findings.filter((finding) => finding.severity === 'error').length;
    throw new InputError(`the new certificate does not fit this renewal (${errors} problem${errors === 1 ? '' : 's'} above); nothing was run`, `see exch-cert inspect ${path}${typeof fqdn === 'string' ? ` --fqdn ${fqdn}` : ''}`);
  }
}
