import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import { readPfx } from '../certificate/read-pfx.js';
import { thumbprintOf } from '../tls/thumbprint.js';
import type { SimulatedCertificate } from './state.js';

/**
 * The password under which the simulator keeps private keys in its state
 * (`$script:KeyPassword` in src/simulator/private/state.ps1). Not a secret: it
 * only keeps the stored keys in real PKCS#12 form.
 */
export const SIMULATOR_KEY_PASSWORD = 'exch-cert-simulator-internal-key-protection';

/**
 * TLS contexts for certificates of the simulator's stores, made once per
 * certificate (opening a PFX derives keys, the slow part). A record never
 * changes under its thumbprint, but the key includes its bytes anyway.
 */
export class SecureContexts {
  private readonly made = new Map<string, SecureContext>();

  /**
   * The context that serves this certificate with its chain: the issuers the
   * PFX holds and those the record kept from its import, leaf first.
   * @throws Error when the PFX cannot be read or holds no key for the certificate
   */
  contextFor(record: SimulatedCertificate): SecureContext {
    const key = createHash('sha256').update(record.pfx).update(record.chain.join(',')).digest('hex');
    let context = this.made.get(key);
    if (!context) {
      context = makeContext(record);
      this.made.set(key, context);
    }
    return context;
  }
}

function makeContext(record: SimulatedCertificate): SecureContext {
  const contents = readPfx(Buffer.from(record.pfx, 'base64'), SIMULATOR_KEY_PASSWORD);
  const certificates = [...contents.certificates, ...record.chain.map((base64) => Buffer.from(base64, 'base64'))].map((der) => new X509Certificate(der));
  const wanted = record.thumbprint.toUpperCase();
  const leaf = certificates.find((certificate) => thumbprintOf(certificate.raw) === wanted);
  const privateKey = contents.privateKeys.map((der) => createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).find((candidate) => leaf?.checkPrivateKey(candidate));
  if (!leaf || !privateKey) throw new Error(`the stored PFX of ${record.thumbprint} holds no private key for it`);
  return createSecureContext({ key: privateKey.export({ format: 'pem', type: 'pkcs8' }), cert: chainOf(leaf, certificates).map((certificate) => certificate.toString()).join('') });
}

/** The leaf, then each issuer found among the certificates, as far as they go (a server sends them in this order). */
function chainOf(leaf: X509Certificate, certificates: readonly X509Certificate[]): X509Certificate[] {
  const chain = [leaf];
  for (let current = leaf; chain.length <= certificates.length; ) {
    if (current.checkIssued(current)) break;
    const issuer = certificates.find((candidate) => !chain.some((seen) => seen.fingerprint256 === candidate.fingerprint256) && current.checkIssued(candidate) && current.verify(candidate.publicKey));
    if (!issuer) break;
    chain.push(issuer);
    current = issuer;
  }
  return chain;
}
