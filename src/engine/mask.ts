/** What replaces a secret wherever it would be shown. */
export const MASK = '***';

/**
 * Hides secret values on every output channel: terminal, NDJSON, journal,
 * error messages. Secrets never enter the script text, but a script may still
 * print one (or PowerShell may echo it in an error), so everything that
 * leaves the engine passes through here. Besides the value itself it masks
 * the forms it takes on the way: JSON-escaped, Base64 of its UTF-8 and
 * UTF-16LE bytes, and each line of a multi-line secret.
 */
export class Masker {
  private readonly patterns: string[];

  constructor(secrets: Iterable<string>) {
    const forms = new Set<string>();
    for (const secret of secrets) {
      if (secret.length === 0) continue;
      for (const form of formsOf(secret)) if (form.length >= MIN_FORM_LENGTH || form === secret) forms.add(form);
    }
    // Longest first, so a secret that contains another is masked whole.
    this.patterns = [...forms].sort((a, b) => b.length - a.length);
  }

  /** The text with every known form of every secret replaced by ***. */
  mask(text: string): string {
    let result = text;
    for (const pattern of this.patterns) if (result.includes(pattern)) result = result.split(pattern).join(MASK);
    return result;
  }

  /** A deep copy of a JSON-like value with every string masked. */
  maskValue<T>(value: T): T {
    if (typeof value === 'string') return this.mask(value) as T;
    if (Array.isArray(value)) return value.map((item: unknown) => this.maskValue(item)) as T;
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, this.maskValue(item)])) as T;
    }
    return value;
  }
}

/** Secrets shorter than this match ordinary text too often for masking by value to protect them. */
export const MIN_MASKABLE_LENGTH = 8;

/** Very short fragments (a line "a" of a multi-line secret) would mask ordinary text; they are left alone. */
const MIN_FORM_LENGTH = 4;

function formsOf(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  const forms = [secret, json, Buffer.from(secret, 'utf8').toString('base64'), Buffer.from(secret, 'utf16le').toString('base64')];
  // Base64 without its padding still appears inside longer Base64 runs.
  forms.push(...forms.slice(2).map((b64) => b64.replace(/=+$/, '')));
  const lines = secret.split(/\r?\n/);
  if (lines.length > 1) forms.push(...lines.filter((line) => line.trim() !== ''));
  return forms;
}
