// The versions and services the checks know, apart from the checks so that
// the CLI can offer them as choices without loading anything else.

export const WINDOWS_VERSIONS = ['2016', '2019', '2022', '2025'] as const;
/** Windows Server version of the Exchange server. */
export type WindowsVersion = (typeof WINDOWS_VERSIONS)[number];

export const EXCHANGE_VERSIONS = ['2016', '2019', 'SE'] as const;
/** Exchange Server version (the CU and HU are not known, so build-dependent limits are warnings). */
export type ExchangeVersion = (typeof EXCHANGE_VERSIONS)[number];

export const EXCHANGE_SERVICES = ['IIS', 'SMTP', 'POP', 'IMAP', 'UM', 'UMCallRouter'] as const;
/** The services of Enable-ExchangeCertificate that the renewal enables. */
export type ExchangeService = (typeof EXCHANGE_SERVICES)[number];

/** The services `renew` enables when none are named. */
export const DEFAULT_SERVICES: readonly ExchangeService[] = ['IIS', 'SMTP', 'POP', 'IMAP'];
