import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InputError } from '../../errors.js';
import { connectTls } from '../../tls/connect.js';
import { checkHost, DEFAULT_PORTS, defaultProtocol, parsePortList, type Endpoint } from '../../tls/endpoint.js';
import { formatResultsText, resultToJson, summarizeResults, toSafeJson } from '../../tls/format.js';
import { parseThumbprint } from '../../tls/thumbprint.js';
import { quoteUntrusted } from '../../text/untrusted.js';
import { verificationExitCode, verifyEndpoints, type ExpectedCertificate } from '../../tls/verify.js';
import type { CliIo, Terminal } from '../terminal.js';

interface VerifyTlsOptions {
  readonly port?: string;
  readonly expect?: string;
  readonly pfx?: string;
  readonly servername?: string;
  readonly timeout: string;
  readonly json?: boolean;
}

/**
 * `exch-cert verify-tls HOST`: what clients get on each port. Exit 0 when
 * every endpoint serves the expected (or a valid) certificate, 1 when one
 * serves another or an invalid one, 3 when one cannot be checked.
 */
export async function verifyTlsCommand(host: string, options: VerifyTlsOptions, io: CliIo, terminal: Terminal): Promise<number> {
  const servername = options.servername ?? host;
  inputCheck(() => checkHost(host), 'HOST');
  inputCheck(() => checkHost(servername), '--servername');
  const ports = options.port === undefined ? DEFAULT_PORTS.map((port) => ({ port, protocol: defaultProtocol(port) })) : inputCheck(() => parsePortList(options.port ?? ''), '--port');
  const timeoutMs = parseTimeout(options.timeout);
  const expected = await readExpected(options, io);
  const endpoints: Endpoint[] = ports.map(({ port, protocol }) => ({ host, port, protocol, servername }));

  const results = await verifyEndpoints(endpoints, expected?.certificate, { connect: connectTls, clock: { now: () => new Date() }, timeoutMs });
  const exitCode = verificationExitCode(results);
  if (options.json) {
    const data = { host, servername, expected: expected ? { ...expected.certificate, source: expected.source } : null, exitCode, endpoints: results.map(resultToJson) };
    io.stdout.write(`${toSafeJson(data)}\n`);
  } else {
    io.stdout.write(formatResultsText(results, new Date(), terminal.color));
  }
  const { color } = terminal;
  const summary = summarizeResults(results, expected !== undefined);
  io.stderr.write(`exch-cert verify-tls: ${exitCode === 0 ? color.green(summary) : exitCode === 1 ? color.red(summary) : color.yellow(summary)}\n`);
  return exitCode;
}

/** Exit 2 with the flag named when a value is wrong. */
function inputCheck<T>(check: () => T, flag: string): T {
  try {
    return check();
  } catch (error) {
    throw new InputError(`${flag}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function parseTimeout(text: string): number {
  const seconds = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(seconds > 0 && seconds <= 600)) throw new InputError(`--timeout: ${quoteUntrusted(text)} is not a number of seconds from 0 to 600`);
  return seconds * 1000;
}

async function readExpected(options: VerifyTlsOptions, io: CliIo): Promise<{ certificate: ExpectedCertificate; source: string } | undefined> {
  if (options.expect !== undefined) return { certificate: { thumbprint: inputCheck(() => parseThumbprint(options.expect ?? ''), '--expect') }, source: '--expect' };
  if (options.pfx === undefined) return undefined;
  const password = io.env['EXCH_CERT_PFX_PASSWORD'];
  if (!password) throw new InputError('--pfx: set EXCH_CERT_PFX_PASSWORD to the PFX password first');
  const path = resolve(io.cwd, options.pfx);
  const shown = quoteUntrusted(options.pfx);
  const bytes = await readFile(path).catch((error: NodeJS.ErrnoException) => {
    throw new InputError(`--pfx: cannot read ${shown}: ${error.code === 'ENOENT' ? 'no such file' : (error.code ?? error.message)}`);
  });
  // The PFX reader loads only when a PFX is given.
  const { describePfx, readPfx } = await import('../../certificate/index.js');
  const certificate = inputCheck(() => describePfx(readPfx(bytes, password)).certificate, `--pfx ${shown}`);
  return { certificate: { thumbprint: certificate.thumbprint }, source: options.pfx };
}
