import { join } from 'node:path';
import { displayPath } from './load-plan.js';
import { packageRoot } from './package-root.js';

/** docs/pitfalls.md of this exch-cert, as a path the operator can open from where they are. */
export function pitfallsDocument(cwd: string): string {
  return displayPath(join(packageRoot(), 'docs', 'pitfalls.md'), cwd);
}

/** A failure exch-cert recognises, and the heading of docs/pitfalls.md (its anchor) that explains it. */
interface KnownFailure {
  readonly pattern: RegExp;
  readonly anchor: string;
  /** Only for steps of this action. */
  readonly action?: string;
}

const KNOWN_FAILURES: readonly KnownFailure[] = [
  { pattern: /specified network password is not correct|cannot open the PFX/i, anchor: 'openssl-3-pfx-files-on-windows-server-2016' },
  { pattern: /parameter name '?FileName'?/i, anchor: 'import-or-export-fails-on-filename' },
  { pattern: /is not recognized as (?:the |a )?name of a cmdlet|offers no \S+-Exchange/i, anchor: 'cmdlets-missing-in-the-wrong-shell' },
  { pattern: /KeyAlgorithmUnsupported|\bECC\b|\bCNG\b/i, anchor: 'ecc-and-cng-keys' },
  { pattern: /tagged with following Send Connectors|TlsCertificateName/i, anchor: 'connectors-that-name-the-certificate' },
  { pattern: /\bAuth certificate\b|AuthConfig/i, anchor: 'owa-and-ecp-break-when-the-auth-certificate-goes' },
  { pattern: /not removing .* still in use/i, anchor: 'the-wrong-old-certificate-is-removed' },
  { pattern: /private key|not exportable|cannot be exported/i, anchor: 'the-old-certificate-cannot-be-backed-up', action: 'backup-certificate' },
  { pattern: /internal transport certificate/i, anchor: 'the-run-hangs-at-the-smtp-question', action: 'enable-certificate' },
  { pattern: /wildcard certificate/i, anchor: 'pop-and-imap-with-a-wildcard-certificate' },
  { pattern: /required services are not running/i, anchor: 'enabled-is-not-served' },
  { pattern: /timed out after/i, anchor: 'a-step-that-waits-forever' },
];

/** The anchor in docs/pitfalls.md that explains this failure (or warning) of a step of `action`, if exch-cert knows one. */
export function pitfallAnchor(text: string, action: string | undefined): string | undefined {
  return KNOWN_FAILURES.find((known) => (known.action === undefined || known.action === action) && known.pattern.test(text))?.anchor;
}

/** Every anchor exch-cert may print, for the test that holds docs/pitfalls.md to them. */
export const PITFALL_ANCHORS: readonly string[] = [...new Set(KNOWN_FAILURES.map((known) => known.anchor))];
