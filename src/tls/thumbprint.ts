import { createHash } from 'node:crypto';
import { quoteUntrusted } from '../text/untrusted.js';

/*
 * Separators people paste with a thumbprint: spaces (certlm shows pairs),
 * colons (openssl), and the invisible left-to-right mark that the Windows
 * certificate dialog puts in front of it when copied.
 */
const SEPARATORS = /[\s:\u200b\u200e\u200f\ufeff]/gu;

/**
 * A SHA-1 thumbprint as Exchange shows it (40 upper-case hex digits), from the
 * forms people paste: any case, with or without spaces or colons. Throws a
 * message for people when it is not one.
 */
export function parseThumbprint(text: string): string {
  const compact = text.replace(SEPARATORS, '');
  if (!/^[0-9a-fA-F]{40}$/.test(compact)) {
    const hint = /^[0-9a-fA-F]{64}$/.test(compact) ? ' (that is a SHA-256 fingerprint; Exchange shows SHA-1)' : '';
    throw new Error(`${quoteUntrusted(text)} is not a SHA-1 thumbprint: expected 40 hex digits, as Get-ExchangeCertificate shows them${hint}`);
  }
  return compact.toUpperCase();
}

/** The thumbprint of a DER certificate: SHA-1, upper-case hex, as Exchange shows it. */
export function thumbprintOf(der: Uint8Array): string {
  return createHash('sha1').update(der).digest('hex').toUpperCase();
}
