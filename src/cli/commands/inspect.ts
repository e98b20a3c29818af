import { resolve } from 'node:path';
import { EXCHANGE_SERVICES, inspectPfx, isUnfit, PfxReadError, readPfxFile, type ExchangeService, type ExchangeVersion, type WindowsVersion } from '../../certificate/index.js';
import { ExitCode, InputError } from '../../errors.js';
import { displayPath } from '../load-plan.js';
import { formatInspection, inspectionData, summarizeInspection, type ReportContext } from '../reporters/inspection.js';
import type { CliIo, Terminal } from '../terminal.js';
import { safeJson, escapeUntrusted } from '../../text/untrusted.js';

/** The flags of `inspect`, as commander parses them. */
export interface InspectOptions {
  readonly fqdn: readonly string[];
  readonly passwordEnv: string;
  readonly windows?: WindowsVersion;
  readonly exchange?: ExchangeVersion;
  readonly services?: string;
  readonly json?: boolean;
  readonly strict?: boolean;
}

// A host name or IP literal; a wildcard is what certificates hold, not what clients ask for.
const FQDN = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$|^[0-9A-Fa-f:.]+$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `exch-cert inspect PFX`: reads the PFX offline, shows what is in it and
 * checks it for Exchange. Exit 0 fit, 1 problems (or warnings with
 * --strict), 2 unreadable or bad flags.
 */
export async function inspectCommand(file: string, options: InspectOptions, io: CliIo, terminal: Terminal, now: Date): Promise<number> {
  const fqdns = options.fqdn.map(checkFqdn);
  const services = parseServices(options.services);
  if (!ENV_NAME.test(options.passwordEnv)) throw new InputError(`--password-env wants an environment variable name, got ${JSON.stringify(escapeUntrusted(options.passwordEnv))}`);
  const password = io.env[options.passwordEnv];
  const display = displayPath(resolve(io.cwd, file), io.cwd);
  if (password === undefined) {
    throw new InputError(`${options.passwordEnv} is not set: inspect needs the PFX password to open it`, `set ${options.passwordEnv} to the password (empty for a PFX without one), or name another variable with --password-env`);
  }
  let inspection;
  try {
    const bytes = await readPfxFile(resolve(io.cwd, file), display);
    inspection = inspectPfx(bytes, password, { fqdns, now, ...(options.windows ? { windows: options.windows } : {}), ...(options.exchange ? { exchange: options.exchange } : {}), ...(services ? { services } : {}) });
  } catch (error) {
    if (!(error instanceof PfxReadError)) throw error;
    if (options.json) io.stdout.write(safeJson({ file: display, readable: false, error: { code: error.code, message: error.message } }) + '\n');
    const { color } = terminal;
    io.stderr.write(`${color.red.bold('exch-cert: error:')} ${escapeUntrusted(`${display}: ${error.message}`)}\n`);
    const hint = error.code === 'wrong-password' ? `check ${options.passwordEnv}: it must hold this file's password` : error.hint;
    if (hint) io.stderr.write(`  ${color.cyan('hint:')} ${hint}\n`);
    return ExitCode.usage;
  }
  const strict = options.strict === true;
  const context: ReportContext = { file: display, now, strict, fit: !isUnfit(inspection.findings, strict) };
  io.stdout.write((options.json ? safeJson({ readable: true, ...inspectionData(inspection, context) }) : formatInspection(inspection, context, terminal.color)) + '\n');
  io.stderr.write(summarizeInspection(inspection.findings, context) + '\n');
  return context.fit ? ExitCode.ok : ExitCode.failed;
}

function checkFqdn(name: string): string {
  if (!FQDN.test(name) || name.length > 253) throw new InputError(`--fqdn wants a host name such as mail.contoso.com, got ${JSON.stringify(escapeUntrusted(name))}`);
  return name;
}

function parseServices(list: string | undefined): ExchangeService[] | undefined {
  if (list === undefined) return undefined;
  return list.split(',').map((item) => {
    const found = EXCHANGE_SERVICES.find((service) => service.toLowerCase() === item.trim().toLowerCase());
    if (!found) throw new InputError(`--services: unknown service ${JSON.stringify(escapeUntrusted(item.trim()))}`, `use a comma-separated list of ${EXCHANGE_SERVICES.join(', ')}`);
    return found;
  });
}
