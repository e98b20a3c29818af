declare const EXCH_CERT_VERSION: string | undefined;

/** exch-cert's version, fixed at build time (tests define it too). */
export const VERSION: string = typeof EXCH_CERT_VERSION === 'string' ? EXCH_CERT_VERSION : '0.0.0-dev';
