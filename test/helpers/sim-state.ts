/**
 * Reading and preparing the simulator's state file (format version 2: one organisation, many
 * servers) in tests: what a scenario asserts about the server after a run.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface SimCertificate {
  readonly thumbprint: string;
  readonly subject: string;
  readonly services: string[];
  readonly privateKeyExportable: boolean;
}

export interface SimBinding {
  readonly protocol: string;
  readonly bindingInformation: string;
  readonly certificateHash: string;
  readonly sslFlags: number;
}

export interface SimServer {
  readonly name: string;
  readonly certificates: SimCertificate[];
  readonly iis: { readonly sites: Array<{ readonly name: string; readonly requireSsl: boolean; readonly bindings: SimBinding[] }>; readonly resets: number };
  readonly transport: { readonly internalTransportCertificateThumbprint: string };
  readonly pop: { readonly x509CertificateName: string; readonly activeCertificateName: string };
  readonly imap: { readonly x509CertificateName: string; readonly activeCertificateName: string };
  readonly services: Array<{ name: string; status: string; startType: string }>;
  readonly receiveConnectors: Array<{ readonly name: string; readonly tlsCertificateName: string }>;
}

export interface SimState {
  readonly version: 2;
  readonly organization: {
    readonly authConfig: { readonly currentCertificateThumbprint: string };
    readonly sendConnectors: Array<{ readonly name: string; readonly tlsCertificateName: string }>;
  };
  readonly servers: SimServer[];
  faults: unknown[];
  readonly calls: Array<{ readonly command: string; readonly server?: string; readonly parameters: Record<string, unknown> }>;
}

export const readSimState = (path: string): SimState => JSON.parse(readFileSync(path, 'utf8')) as SimState;

/** One server of the organisation (the first Mailbox server unless named). */
export function serverOf(state: SimState, name?: string): SimServer {
  const server = name === undefined ? state.servers[0] : state.servers.find((candidate) => candidate.name.toLowerCase() === name.toLowerCase());
  if (!server) throw new Error(`no server ${name ?? ''} in the simulator state`);
  return server;
}

/** The state file's server, read now. */
export const readServer = (path: string, name?: string): SimServer => serverOf(readSimState(path), name);

/** The thumbprint an https binding of a site has. */
export const binding = (server: SimServer, site: string, info: string): string | undefined =>
  server.iis.sites.find((candidate) => candidate.name === site)?.bindings.find((entry) => entry.protocol === 'https' && entry.bindingInformation === info)?.certificateHash;

/** The certificate whose subject matches. */
export const certificate = (server: SimServer, subject: RegExp): SimCertificate | undefined => server.certificates.find((candidate) => subject.test(candidate.subject));

/** Changes the state file in place (faults, services, layouts a test needs). */
export function editSimState(path: string, edit: (state: SimState) => void): void {
  const state = readSimState(path);
  edit(state);
  writeFileSync(path, JSON.stringify(state, null, 2));
}
