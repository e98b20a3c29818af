import { describePfx, readPfx as readPkcs12 } from '../../src/certificate/index.js';

/** What a PKCS#12 file holds, read in Node (independently of PowerShell and .NET). */
export interface PfxContents {
  /** SHA-1 of the leaf certificate, upper-case hex, as Exchange shows it. */
  readonly thumbprint: string;
  readonly subject: string;
  readonly hasPrivateKey: boolean;
}

/** Opens a PFX; throws when the password is wrong or the file is not PKCS#12. */
export function readPfx(bytes: Buffer, password: string): PfxContents {
  const pfx = describePfx(readPkcs12(bytes, password));
  return { thumbprint: pfx.certificate.thumbprint, subject: pfx.certificate.subject, hasPrivateKey: pfx.privateKey };
}
