import * as z from 'zod';
import { judgeExpiry, type FixedThresholds, type Judgment } from './expiry.js';

/** One certificate a server uses, as the list-certificates action reports it. */
export interface StoreCertificate {
  readonly thumbprint: string;
  readonly subject: string;
  /** Undefined when the store does not hold it. */
  readonly notBefore: Date | undefined;
  readonly notAfter: Date | undefined;
  readonly services: string;
  /** What uses it: services, 'internal transport', 'Auth', 'Auth (next)', 'IIS <site> <binding>'. */
  readonly uses: readonly string[];
  readonly inStore: boolean;
}

const date = z.string().transform((text, context) => {
  if (text === '') return undefined;
  const value = new Date(text);
  if (Number.isNaN(value.getTime())) {
    context.addIssue({ code: 'custom', message: `not a date: ${text}` });
    return z.NEVER;
  }
  return value;
});

// ConvertTo-Json on Windows PowerShell 5.1 may write a one-item array as the item.
const recordSchema = z.object({
  thumbprint: z.string().regex(/^[0-9A-Fa-f]{40}$/),
  subject: z.string(),
  notBefore: date,
  notAfter: date,
  services: z.string(),
  uses: z.union([z.array(z.string()), z.string()]).transform((value) => (Array.isArray(value) ? value : [value])),
  inStore: z.boolean(),
});

/**
 * The `certificates` output of a list-certificates step: one JSON object per item.
 * @throws Error naming the item when one is not such an object
 */
export function parseStoreCertificates(output: unknown): StoreCertificate[] {
  const items = z.array(z.string()).safeParse(output ?? []);
  if (!items.success) throw new Error('the certificates output is not a list of JSON texts');
  return items.data.map((text, index) => {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new Error(`certificate ${index + 1} of the list is not JSON`);
    }
    const parsed = recordSchema.safeParse(data);
    if (!parsed.success) throw new Error(`certificate ${index + 1} of the list: ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    const record = parsed.data;
    if (record.inStore && (record.notBefore === undefined || record.notAfter === undefined)) throw new Error(`certificate ${index + 1} of the list has no validity dates`);
    return { ...record, thumbprint: record.thumbprint.toUpperCase() };
  });
}

/**
 * What `status --server` says of each certificate a server uses: its expiry, judged as an
 * endpoint's is, under the label `SERVER CN` (the subject when it has no CN; the thumbprint's
 * first eight digits added where two share one). A certificate something uses but the store lacks
 * is UNKNOWN: that use is broken, and there is no date to judge.
 */
export function judgeStore(server: string, certificates: readonly StoreCertificate[], now: Date, fixed: FixedThresholds = {}): Array<{ judgment: Judgment; certificate: StoreCertificate }> {
  const names = certificates.map((certificate) => (certificate.inStore ? commonName(certificate.subject) || certificate.subject || certificate.thumbprint : certificate.thumbprint));
  return certificates.map((certificate, index) => {
    const name = names[index] ?? certificate.thumbprint;
    const shared = names.filter((other) => other === name).length > 1;
    const label = `${server} ${name}${shared ? ` (${certificate.thumbprint.slice(0, 8)})` : ''}`;
    const { notBefore, notAfter } = certificate;
    const judgment: Judgment =
      certificate.inStore && notBefore && notAfter
        ? judgeExpiry({ label, thumbprint: certificate.thumbprint, notBefore, notAfter }, now, fixed)
        : { label, state: 'UNKNOWN', kind: 'unjudged', reason: `not in the certificate store of ${server}, but used for ${certificate.uses.join(', ')}` };
    return { judgment, certificate };
  });
}

/** The CN of a Windows-order distinguished name (`CN=mail.contoso.com, O=Contoso`), or ''. */
function commonName(subject: string): string {
  const match = /(?:^|,\s*)CN=("(?:[^"]|"")*"|[^,]*)/.exec(subject);
  const value = match?.[1]?.trim() ?? '';
  return value.startsWith('"') ? value.slice(1, -1).replace(/""/g, '"') : value;
}
