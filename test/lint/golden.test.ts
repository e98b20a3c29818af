import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import { formatText } from '../../src/lint/format.js';
import { analyzeRunbook } from '../../src/lint/index.js';
import { decodeRunbookSource } from '../../src/runbook/source.js';

/**
 * actionlint-style goldens: each test/golden/lint/NAME.yaml has the exact
 * text report in NAME.out next to it. Review changes to .out files like code
 * (update them with `npx vitest run -u test/lint`).
 */
const dir = join(import.meta.dirname, '..', 'golden', 'lint');
const files = readdirSync(dir).filter((name) => name.endsWith('.yaml'));
const plain = new Chalk({ level: 0 });

describe('lint goldens', () => {
  it.each(files)('%s', async (name) => {
    const file = `test/golden/lint/${name}`;
    const decoded = decodeRunbookSource(file, readFileSync(join(dir, name)));
    if (!decoded.ok) throw new Error(decoded.diagnostic.message);
    const { diagnostics } = await analyzeRunbook(decoded.source);
    expect(diagnostics.length).toBeGreaterThan(0);
    const report = formatText(diagnostics, new Map([[file, decoded.source.text]]), plain) + '\n';
    await expect(report).toMatchFileSnapshot(join(dir, name.replace(/\.yaml$/, '.out')));
  });
});
