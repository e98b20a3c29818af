import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeRunbookSource, MAX_RUNBOOK_BYTES, readRunbookSource } from '../../src/runbook/source.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('decodeRunbookSource', () => {
  it('strips a UTF-8 byte-order mark', () => {
    const result = decodeRunbookSource('a.yaml', new Uint8Array([0xef, 0xbb, 0xbf, ...bytes('version: 1\n')]));
    expect(result).toEqual({ ok: true, source: { file: 'a.yaml', text: 'version: 1\n' } });
  });

  it('keeps CRLF text as it is (the YAML parser handles it)', () => {
    const result = decodeRunbookSource('a.yaml', bytes('version: 1\r\nname: x\r\n'));
    expect(result.ok && result.source.text).toBe('version: 1\r\nname: x\r\n');
  });

  it('reports invalid UTF-8 with the line and column of the bad byte', () => {
    const result = decodeRunbookSource('a.yaml', new Uint8Array([...bytes('version: 1\nname: caf'), 0xe9, ...bytes('\n')]));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.diagnostic).toMatchObject({ line: 2, column: 10, ruleId: 'file', severity: 'error' });
      expect(result.diagnostic.message).toContain('not valid UTF-8 (byte 0xe9');
    }
  });

  it('rejects an empty or blank file', () => {
    for (const text of ['', '   \n\n']) {
      const result = decodeRunbookSource('a.yaml', bytes(text));
      expect(!result.ok && result.diagnostic.message).toBe('file is empty');
    }
  });

  it('rejects files over 1 MiB', () => {
    const result = decodeRunbookSource('a.yaml', new Uint8Array(MAX_RUNBOOK_BYTES + 1).fill(0x20));
    expect(!result.ok && result.diagnostic.message).toContain('runbooks are limited to 1048576 bytes');
  });
});

describe('readRunbookSource', () => {
  const dir = mkdtempSync(join(tmpdir(), 'exch-cert-source-'));

  it('reports a missing file', async () => {
    const result = await readRunbookSource(join(dir, 'nope.yaml'));
    expect(!result.ok && result.diagnostic.message).toBe('file not found');
  });

  it('reports a directory', async () => {
    mkdirSync(join(dir, 'folder.yaml'));
    const result = await readRunbookSource(join(dir, 'folder.yaml'));
    expect(!result.ok && result.diagnostic.message).toBe('is a directory, not a runbook file');
  });

  it('refuses an oversized file before reading it', async () => {
    const file = join(dir, 'big.yaml');
    writeFileSync(file, Buffer.alloc(MAX_RUNBOOK_BYTES + 10, 0x20));
    const result = await readRunbookSource(file);
    expect(!result.ok && result.diagnostic.message).toMatch(/^file is 1048586 bytes/);
  });
});
