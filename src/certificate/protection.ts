import type { Encryption } from './pbe.js';
import type { PfxProtection } from './read-pfx.js';

/**
 * The protection in one word: `pbes2` (OpenSSL 3's default, AES), `legacy`
 * (3DES/RC2, what every Windows reads), `mixed`, or `none` (nothing encrypted).
 */
export type ProtectionKind = 'pbes2' | 'legacy' | 'mixed' | 'none';

/** Classifies how a PFX is encrypted. */
export function protectionKind(protection: PfxProtection): ProtectionKind {
  const schemes = new Set([...protection.certificates, ...protection.keys].map((encryption) => encryption.scheme).filter((scheme) => scheme !== 'none'));
  if (schemes.size === 0) return 'none';
  if (schemes.size > 1) return 'mixed';
  return schemes.has('pbes2') ? 'pbes2' : 'legacy';
}

/** One line for people: `certificates and key: PBES2 AES-256-CBC (PBKDF2 HMAC-SHA256, 2048 iterations); MAC HMAC-SHA256 (2048 iterations)`. */
export function formatProtection(protection: PfxProtection): string {
  const parts: string[] = [];
  const certificates = unique(protection.certificates.map(formatEncryption));
  const keys = unique(protection.keys.map(formatEncryption));
  if (certificates.length === 1 && keys.length === 1 && certificates[0] === keys[0]) parts.push(`certificates and key: ${certificates[0]}`);
  else {
    if (certificates.length > 0) parts.push(`certificates: ${certificates.join(', ')}`);
    if (keys.length > 0) parts.push(`key: ${keys.join(', ')}`);
  }
  parts.push(protection.mac ? `MAC ${protection.mac.algorithm} (${protection.mac.iterations} iterations)` : 'no MAC');
  return parts.join('; ');
}

function formatEncryption(encryption: Encryption): string {
  switch (encryption.scheme) {
    case 'none':
      return 'not encrypted';
    case 'pbes2':
      return `PBES2 ${encryption.cipher} (PBKDF2 ${encryption.prf}, ${encryption.iterations} iterations)`;
    case 'pkcs12-pbe':
      return `${encryption.algorithm} (${encryption.iterations} iterations)`;
  }
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
