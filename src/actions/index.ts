import type { ActionDefinition } from './action.js';
import { backupCertificate } from './catalog/backup-certificate.js';
import { backupEdgeCertificate } from './catalog/backup-edge-certificate.js';
import { bindIisCertificate } from './catalog/bind-iis-certificate.js';
import { enableCertificate } from './catalog/enable-certificate.js';
import { enableEdgeCertificate } from './catalog/enable-edge-certificate.js';
import { findCertificate } from './catalog/find-certificate.js';
import { findEdgeCertificate } from './catalog/find-edge-certificate.js';
import { iisReset } from './catalog/iis-reset.js';
import { importCertificate } from './catalog/import-certificate.js';
import { importEdgeCertificate } from './catalog/import-edge-certificate.js';
import { listCertificates } from './catalog/list-certificates.js';
import { listExchangeServers } from './catalog/list-exchange-servers.js';
import { newEdgeSubscriptionFile } from './catalog/new-edge-subscription-file.js';
import { newSelfSignedCertificate } from './catalog/new-self-signed-certificate.js';
import { powershell } from './catalog/powershell.js';
import { preflightRenewal } from './catalog/preflight-renewal.js';
import { probeTls } from './catalog/probe-tls.js';
import { redirectMessages } from './catalog/redirect-messages.js';
import { setInternalTransportCertificate } from './catalog/set-internal-transport-certificate.js';
import { startServices } from './catalog/start-services.js';
import { updateConnectorCertificate } from './catalog/update-connector-certificate.js';
import { verifyTls } from './catalog/verify-tls.js';
import { removeCertificate } from './catalog/remove-certificate.js';
import { removeEdgeCertificate } from './catalog/remove-edge-certificate.js';
import { restartServices } from './catalog/restart-services.js';
import { setPopImapCertificateName } from './catalog/set-pop-imap-certificate-name.js';
import { setServerComponentState } from './catalog/set-server-component-state.js';
import { subscribeEdge } from './catalog/subscribe-edge.js';
import { testEdgeSynchronization } from './catalog/test-edge-synchronization.js';
import { testServerComponents } from './catalog/test-server-components.js';
import { testServiceHealth } from './catalog/test-service-health.js';
import { waitForQueues } from './catalog/wait-for-queues.js';

/** The action catalog, in the order `exch-cert actions` lists it. */
export const ACTIONS: readonly ActionDefinition[] = [
  preflightRenewal,
  newSelfSignedCertificate,
  importCertificate,
  enableCertificate,
  setPopImapCertificateName,
  testServiceHealth,
  backupCertificate,
  removeCertificate,
  findCertificate,
  listCertificates,
  restartServices,
  startServices,
  iisReset,
  bindIisCertificate,
  setInternalTransportCertificate,
  updateConnectorCertificate,
  probeTls,
  verifyTls,
  // Several servers, maintenance mode
  listExchangeServers,
  testServerComponents,
  setServerComponentState,
  redirectMessages,
  waitForQueues,
  // The Edge Transport server and its subscription
  findEdgeCertificate,
  backupEdgeCertificate,
  importEdgeCertificate,
  enableEdgeCertificate,
  newEdgeSubscriptionFile,
  subscribeEdge,
  testEdgeSynchronization,
  removeEdgeCertificate,
  powershell,
] as ActionDefinition[];

const BY_NAME: ReadonlyMap<string, ActionDefinition> = new Map(ACTIONS.map((action) => [action.name, action]));

export function findAction(name: string): ActionDefinition | undefined {
  return BY_NAME.get(name);
}

export const ACTION_NAMES: readonly string[] = ACTIONS.map((action) => action.name);
