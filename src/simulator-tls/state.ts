import { readFile } from 'node:fs/promises';
import * as z from 'zod';
import { InputError } from '../errors.js';
import { quoteUntrusted } from '../text/untrusted.js';

/*
 * The parts of the simulator's state file (format version 2, documented in the header of
 * src/simulator/ExchCertSimulator.psm1) that decide what a simulated server serves on its TLS
 * ports. The simulator saves the file by an atomic rename, so it is read without its lock: a
 * reader sees the old file or the new one, never half of one.
 */

// ConvertTo-Json writes a list that a pipeline reduced to one item as that item.
const list = <T extends z.ZodType>(item: T) => z.union([z.array(item), item]).transform((value) => (Array.isArray(value) ? value : [value]) as Array<z.output<T>>);
const optionalList = <T extends z.ZodType>(item: T) => z.union([list(item), z.null()]).optional().transform((value) => value ?? []);
const text = z.union([z.string(), z.null()]).optional().transform((value) => value ?? '');

const bindingSchema = z.object({
  protocol: z.string(),
  bindingInformation: z.string(),
  sslFlags: z.number().optional().default(0),
  certificateHash: text,
});

const certificateSchema = z.object({
  thumbprint: z.string(),
  subject: z.string(),
  /** Base64 PKCS#12 with the key, under the simulator's internal password. */
  pfx: z.string(),
  /** Base64 DER of the issuers the imported PFX held. */
  chain: optionalList(z.string()),
});

const protocolSchema = z
  .object({
    activeCertificateThumbprint: text,
    services: list(z.string()),
  })
  .nullable()
  .optional()
  .transform((value) => value ?? undefined);

const connectorSchema = z.object({
  name: z.string(),
  bindings: optionalList(z.string()),
  transportRole: z.string(),
  enabled: z.boolean().optional().default(true),
  fqdn: text,
  activeCertificateThumbprint: text,
});

const serverSchema = z.object({
  name: z.string(),
  fqdn: z.string(),
  certificates: optionalList(certificateSchema),
  iis: z
    .object({ sites: optionalList(z.object({ name: z.string(), bindings: optionalList(bindingSchema) })) })
    .nullable()
    .optional()
    .transform((value) => value ?? undefined),
  pop: protocolSchema,
  imap: protocolSchema,
  services: optionalList(z.object({ name: z.string(), status: z.string() })),
  receiveConnectors: optionalList(connectorSchema),
});

const stateSchema = z.object({ version: z.literal(2), servers: list(serverSchema) });

export type SimulatedServer = z.output<typeof serverSchema>;
export type SimulatedCertificate = z.output<typeof certificateSchema>;
export type SimulatedConnector = z.output<typeof connectorSchema>;

/**
 * One server of the state file (by name or FQDN), read now.
 * @throws InputError when the file cannot be read, is not a version 2 state, or lacks the server
 */
export async function readSimulatedServer(statePath: string, serverName: string): Promise<SimulatedServer> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(statePath, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : error instanceof SyntaxError ? `not JSON (${error.message})` : (code ?? String(error));
    throw new InputError(`cannot read the simulator state ${quoteUntrusted(statePath)}: ${reason}`, 'create one with `exch-cert simulator init` or New-ExchCertSimulatorState');
  }
  const parsed = stateSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(`${quoteUntrusted(statePath)} is not a version 2 simulator state: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}`);
  }
  // By name or FQDN, as --server takes either.
  const wanted = serverName.toLowerCase();
  const server = parsed.data.servers.find((candidate) => candidate.name.toLowerCase() === wanted || candidate.fqdn.toLowerCase() === wanted);
  if (!server) {
    throw new InputError(`the simulator state has no server ${quoteUntrusted(serverName)}; it has ${parsed.data.servers.map((candidate) => candidate.name).join(', ')}`);
  }
  return server;
}
