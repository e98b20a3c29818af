import type { Protocol } from '../tls/endpoint.js';
import type { SimulatedCertificate, SimulatedConnector, SimulatedServer } from './state.js';

/** What a simulated server offers on one of its real ports. */
export interface EndpointPlan {
  readonly service: 'iis' | 'pop' | 'imap' | 'smtp';
  /** IIS: the site; POP3 and IMAP4: the protocol; SMTP: the receive connector. */
  readonly name: string;
  /** The port on the simulated server (443, 444, 995, 110, 993, 143, 25, 587). */
  readonly realPort: number;
  readonly protocol: Protocol;
  /** IIS: the https binding, `ip:port:host`. */
  readonly bindingInformation?: string;
}

/** An IIS binding's `ip:port:host`, with IPv6 addresses in brackets; `*` and an empty address mean any. */
export function parseBindingInformation(information: string): { ip: string; port: number; host: string } | undefined {
  const match = /^(\[[^\]]*\]|[^:]*):(\d{1,5}):(.*)$/.exec(information);
  if (!match) return undefined;
  const ip = match[1] === '' || match[1] === '*' ? '*' : (match[1] ?? '*').replace(/^\[|\]$/g, '');
  return { ip, port: Number(match[2]), host: match[3] ?? '' };
}

/** The SMTP ports clients use (SMTP and submission); other receive connectors are server-to-server. */
const SMTP_PORTS = [25, 587];

/**
 * Every TLS endpoint of a server: one per https binding of each IIS site, POP3 on 995 and 110
 * (STLS), IMAP4 on 993 and 143 (STARTTLS), and SMTP on 25 and 587 where a receive connector listens
 * (on an address that takes every client, 0.0.0.0 or [::], before a specific one).
 */
export function planEndpoints(server: SimulatedServer): EndpointPlan[] {
  const plans: EndpointPlan[] = [];
  for (const site of server.iis?.sites ?? []) {
    for (const binding of site.bindings) {
      const parsed = binding.protocol.toLowerCase() === 'https' ? parseBindingInformation(binding.bindingInformation) : undefined;
      if (parsed) plans.push({ service: 'iis', name: site.name, realPort: parsed.port, protocol: 'tls', bindingInformation: binding.bindingInformation });
    }
  }
  if (server.pop) plans.push({ service: 'pop', name: 'POP3', realPort: 995, protocol: 'tls' }, { service: 'pop', name: 'POP3', realPort: 110, protocol: 'pop3' });
  if (server.imap) plans.push({ service: 'imap', name: 'IMAP4', realPort: 993, protocol: 'tls' }, { service: 'imap', name: 'IMAP4', realPort: 143, protocol: 'imap' });
  for (const port of SMTP_PORTS) {
    const connector = connectorOnPort(server, port);
    if (connector) plans.push({ service: 'smtp', name: connector.name, realPort: port, protocol: 'smtp' });
  }
  return plans;
}

function connectorOnPort(server: SimulatedServer, port: number): SimulatedConnector | undefined {
  const listening = server.receiveConnectors.filter((connector) => connector.bindings.some((binding) => binding.endsWith(`:${port}`)));
  return listening.find((connector) => connector.bindings.some((binding) => binding === `0.0.0.0:${port}` || binding === `[::]:${port}`)) ?? listening[0];
}

/**
 * The certificate http.sys serves for a connection to `ip` (`*`: an address no IP-specific binding
 * names) on `port`: an SNI binding (sslFlags 1) for the name the client sent, else the binding of
 * that IP address, else the wildcard binding. Undefined when none has a certificate: http.sys then
 * ends the handshake.
 */
export function iisThumbprint(server: SimulatedServer, ip: string, port: number, servername: string | undefined): string | undefined {
  const bindings = (server.iis?.sites ?? []).flatMap((site) => site.bindings).filter((binding) => binding.protocol.toLowerCase() === 'https' && binding.certificateHash !== '');
  const withParts = bindings.flatMap((binding) => {
    const parsed = parseBindingInformation(binding.bindingInformation);
    return parsed && parsed.port === port ? [{ ...parsed, sni: (binding.sslFlags & 1) === 1 && parsed.host !== '', thumbprint: binding.certificateHash }] : [];
  });
  const sni = servername === undefined ? undefined : withParts.find((binding) => binding.sni && binding.host.toLowerCase() === servername.toLowerCase());
  const specific = ip === '*' ? undefined : withParts.find((binding) => !binding.sni && binding.ip === ip);
  const wildcard = withParts.find((binding) => !binding.sni && (binding.ip === '*' || binding.ip === '0.0.0.0'));
  return (sni ?? specific ?? wildcard)?.thumbprint;
}

/** The connector a plan names, as the state has it now. */
export function connectorNamed(server: SimulatedServer, name: string): SimulatedConnector | undefined {
  return server.receiveConnectors.find((connector) => connector.name.toLowerCase() === name.toLowerCase());
}

/**
 * The certificate an endpoint other than IIS serves: what POP3 or IMAP4 loaded when both of their
 * services last started, or what a receive connector's transport service picked at its start
 * (the simulator's PowerShell side decides both). Undefined: nothing to serve.
 */
export function servedThumbprint(server: SimulatedServer, plan: EndpointPlan): string | undefined {
  switch (plan.service) {
    case 'iis':
      return undefined;
    case 'pop':
    case 'imap':
      return server[plan.service]?.activeCertificateThumbprint || undefined;
    case 'smtp': {
      const connector = connectorNamed(server, plan.name);
      return connector?.enabled ? connector.activeCertificateThumbprint || undefined : undefined;
    }
  }
}

/**
 * The Windows service that must run for the endpoint to answer: W3SVC for IIS, the client-facing
 * POP3/IMAP4 service, and the transport service of the connector (Front End Transport for
 * FrontendTransport connectors, else Transport).
 */
export function serviceOf(server: SimulatedServer, plan: EndpointPlan): string {
  switch (plan.service) {
    case 'iis':
      return 'W3SVC';
    case 'pop':
    case 'imap':
      return server[plan.service]?.services[0] ?? (plan.service === 'pop' ? 'MSExchangePop3' : 'MSExchangeImap4');
    case 'smtp':
      return connectorNamed(server, plan.name)?.transportRole === 'FrontendTransport' ? 'MSExchangeFrontEndTransport' : 'MSExchangeTransport';
  }
}

/** Whether the endpoint answers now: its service runs (and, for SMTP, its connector is enabled). */
export function isListening(server: SimulatedServer, plan: EndpointPlan): boolean {
  const name = serviceOf(server, plan).toLowerCase();
  const running = server.services.some((service) => service.name.toLowerCase() === name && service.status === 'Running');
  return running && (plan.service !== 'smtp' || connectorNamed(server, plan.name)?.enabled === true);
}

/** The certificate in the server's store with that thumbprint. */
export function certificateIn(server: SimulatedServer, thumbprint: string): SimulatedCertificate | undefined {
  const wanted = thumbprint.toUpperCase();
  return server.certificates.find((record) => record.thumbprint.toUpperCase() === wanted);
}

/** The FQDN an SMTP endpoint announces: its connector's, else the server's. */
export function smtpFqdn(server: SimulatedServer, plan: EndpointPlan): string {
  return connectorNamed(server, plan.name)?.fqdn || server.fqdn;
}
