import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import { formatGithub, formatJson, formatText } from '../../src/lint/format.js';
import { MAX_DIAGNOSTICS_PER_FILE } from '../../src/lint/index.js';
import { analyze, brief } from '../helpers/analyze.js';

const plain = new Chalk({ level: 0 });

const HEALTH = `  - id: health
    action: test-service-health
    with: { server: EXCH01 }
`;

describe('control characters in a runbook', () => {
  it('rejects an ESC sequence hidden in a script comment, at its position', async () => {
    const text = `version: 1\nname: esc\nsteps:\n  - id: hidden\n    action: powershell\n    with:\n      script: |\n        # \u001b[1A\u001b[2K looks empty\n        New-Item x\n${HEALTH}`;
    const { diagnostics } = await analyze(text);
    expect(diagnostics.filter((d) => d.ruleId === 'control-character')).toEqual([
      expect.objectContaining({ line: 8, column: 11, severity: 'error', message: 'control character U+001B (ESC) in the runbook' }),
    ]);
  });

  it.each([
    ['C1 CSI', '\u009b', 'U+009B (CSI)'],
    ['DEL', '\u007f', 'U+007F (DEL)'],
    ['a bidi override', '\u202e', 'U+202E (RIGHT-TO-LEFT OVERRIDE)'],
    ['a line separator', '\u2028', 'U+2028 (LINE SEPARATOR)'],
    ['NUL', '\u0000', 'U+0000 (NUL)'],
  ])('rejects %s in a title', async (_name, character, description) => {
    const { diagnostics } = await analyze(`version: 1\nname: ctl\nsteps:\n  - id: health\n    title: "a${character}b"\n    action: test-service-health\n    with: { server: EXCH01 }\n`);
    expect(diagnostics.filter((d) => d.ruleId === 'control-character').map((d) => `${d.line}:${d.column} ${d.message}`)).toEqual([
      expect.stringMatching(new RegExp(`^5:14 .*${description.replace(/[()+]/g, '\\$&')} in the runbook$`)),
    ]);
  });

  it('accepts tabs, CRLF line ends and Unicode text', async () => {
    const { diagnostics } = await analyze(`version: 1\r\nname: ok\r\nsteps:\r\n  - id: health\r\n    title: "caf\u00e9 \u2013 \u00fcber\tx"\r\n    action: test-service-health\r\n    with: { server: EXCH01 }\r\n`);
    expect(brief(diagnostics)).toEqual([]);
  });

  it('shows them escaped in the text report, so a message cannot forge report lines', async () => {
    // An unknown key with a newline, an ESC sequence and a bidi override in its name: the message quotes it.
    const text = `version: 1\nname: forge\n"x\\nexch-cert lint: no problems\\e[2K\\u202e": 1\nsteps:\n${HEALTH}`;
    const { diagnostics } = await analyze(text);
    const report = formatText(diagnostics, new Map([['test.yaml', text]]), plain);
    expect(report).toContain("unknown key 'x\\nexch-cert lint: no problems\\e[2K\\u202e'");
    expect(report).not.toMatch(/[\u001b\u202e]/);
    expect(report.split('\n').filter((line) => line.startsWith('exch-cert'))).toEqual([]);
    expect(formatGithub(diagnostics)).not.toMatch(/[\u001b\u202e\n]/);
    expect(formatJson(diagnostics, { files: 1, counts: { errors: 1, warnings: 0 }, parser: undefined })).not.toMatch(/[\u001b\u202e]/);
  });

  it('escapes control characters in source excerpts and keeps the caret under the problem', async () => {
    const text = `version: 1\nname: caret\nsteps:\n  - id: health\n    title: "\u001b[31mred"\n    actoin: test-service-health\n    with: { server: EXCH01 }\n`;
    const { diagnostics } = await analyze(text);
    const report = formatText(diagnostics, new Map([['test.yaml', text]]), plain);
    expect(report).toContain('   5 |     title: "\\e[31mred"\n     |             ^~\n');
  });
});

describe('many problems in one file', () => {
  // Quadratic, the first took about 25 s; the tests' timeouts only say "it finishes", the figures are in npm run bench.
  it('reports 20,000 unknown keys, capped with one line for the rest', { timeout: 60_000 }, async () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `unknown${i}: ${i}`).join('\n');
    const { diagnostics } = await analyze(`version: 1\nname: keys\n${keys}\nsteps:\n${HEALTH}`);
    expect(diagnostics).toHaveLength(MAX_DIAGNOSTICS_PER_FILE + 1);
    expect(diagnostics.at(-1)).toMatchObject({ ruleId: 'too-many-problems', severity: 'error', message: 'and 19800 more problems in this file (19800 errors, 0 warnings), not shown' });
  });

  it('still finds duplicate keys among 20,000', { timeout: 60_000 }, async () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `k${i % 10_000}: ${i}`).join('\n');
    const { diagnostics } = await analyze(`version: 1\nname: dup\nparams:\n  a: { type: string }\n  a: { type: number }\n${keys}\n`);
    expect(diagnostics[0]).toMatchObject({ line: 5, column: 3, ruleId: 'yaml-syntax', message: expect.stringContaining('duplicate key') as string });
  });
});

describe('YAML and step errors', () => {
  it('names a mis-indented line once, with the fix', async () => {
    const { diagnostics } = await analyze('version: 1\nname: indent\nsteps:\n  - id: health\n    action: test-service-health\n     with:\n      server: x\n');
    expect(diagnostics).toEqual([
      expect.objectContaining({
        line: 6,
        column: 6,
        ruleId: 'yaml-syntax',
        message: 'bad indentation: this line is indented 5 spaces, but the lines around it are at 4',
        hint: "indent it 4 spaces, like 'action:' on line 5",
      }),
    ]);
  });

  it('still checks the fields of a step whose id is a duplicate', async () => {
    const { diagnostics } = await analyze(`version: 1\nname: dup\nsteps:\n${HEALTH}  - id: health\n    action: test-service-health\n    with: { server: EXCH01, serverr: x }\n`);
    expect(brief(diagnostics)).toEqual(['7:9 error duplicate-step-id', '9:29 error unknown-key']);
  });
});
