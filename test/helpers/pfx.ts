import forge from 'node-forge';

/** What a PKCS#12 file holds, read independently of PowerShell and .NET. */
export interface PfxContents {
  /** SHA-1 of the leaf certificate, upper-case hex, as Exchange shows it. */
  readonly thumbprint: string;
  readonly subject: string;
  readonly hasPrivateKey: boolean;
}

/** Opens a PFX with node-forge; throws when the password is wrong or the file is not PKCS#12. */
export function readPfx(bytes: Buffer, password: string): PfxContents {
  const asn1 = forge.asn1.fromDer(forge.util.createBuffer(bytes.toString('binary')));
  const p12 = forge.pkcs12.pkcs12FromAsn1(asn1, false, password);
  const keys = [
    ...(p12.getBags({ bagType: forge.pki.oids['pkcs8ShroudedKeyBag'] })[forge.pki.oids['pkcs8ShroudedKeyBag'] as string] ?? []),
    ...(p12.getBags({ bagType: forge.pki.oids['keyBag'] })[forge.pki.oids['keyBag'] as string] ?? []),
  ];
  const certificates = (p12.getBags({ bagType: forge.pki.oids['certBag'] })[forge.pki.oids['certBag'] as string] ?? []).flatMap((bag) => (bag.cert ? [bag.cert] : []));
  // The leaf is the certificate whose public key matches a private key (or the only one).
  const leaf =
    certificates.find((cert) => keys.some((bag) => bag.key && forge.pki.publicKeyToPem(cert.publicKey) === forge.pki.publicKeyToPem(forge.pki.setRsaPublicKey(bag.key.n, bag.key.e)))) ??
    certificates[0];
  if (!leaf) throw new Error('the PFX holds no certificate');
  const der = forge.asn1.toDer(forge.pki.certificateToAsn1(leaf)).getBytes();
  const thumbprint = forge.md.sha1.create().update(der).digest().toHex().toUpperCase();
  return { thumbprint, subject: leaf.subject.attributes.map((a) => `${a.shortName ?? a.name ?? ''}=${String(a.value)}`).join(', '), hasPrivateKey: keys.length > 0 };
}
