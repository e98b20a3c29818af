import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ACTIONS } from '../../src/actions/index.js';
import { buildRunbookJsonSchema } from '../../src/runbook/json-schema.js';
import { runCli } from '../helpers/cli.js';
import { repoRoot } from '../helpers/plan.js';

describe('exch-cert schema', () => {
  it('prints the schema generated from the zod schemas', () => {
    const result = runCli(['schema']);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(buildRunbookJsonSchema());
  });

  it('matches the committed runbooks/runbook.schema.json (regenerate: exch-cert schema > runbooks/runbook.schema.json)', () => {
    const committed = readFileSync(join(repoRoot, 'runbooks', 'runbook.schema.json'), 'utf8');
    expect(committed).toBe(JSON.stringify(buildRunbookJsonSchema(), null, 2) + '\n');
  });

  it('is draft-7 (what yaml-language-server reads) and knows every action', () => {
    const schema = buildRunbookJsonSchema() as { $schema: string; definitions: Record<string, { oneOf?: unknown[]; anyOf?: unknown[] }> };
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    const step = schema.definitions['step'];
    expect(step?.oneOf ?? step?.anyOf).toHaveLength(ACTIONS.length);
  });

  it('accepts the shipped runbooks and rejects typos, as an editor would', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(buildRunbookJsonSchema());
    for (const name of ['renew-certificate', 'new-self-signed-certificate', 'validate-exchange']) {
      const data: unknown = parse(readFileSync(join(repoRoot, 'runbooks', `${name}.yaml`), 'utf8'));
      expect(validate(data), `${name}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    expect(validate(parse(readFileSync(join(repoRoot, 'test', 'golden', 'catalog.yaml'), 'utf8')))).toBe(true);
    expect(validate(parse(readFileSync(join(repoRoot, 'test', 'golden', 'lint', 'schema-errors.yaml'), 'utf8')))).toBe(false);
  });
});

describe('exch-cert actions', () => {
  it('lists every action with fields, outputs and whether it is destructive', () => {
    const result = runCli(['actions', '--json']);
    expect(result.status).toBe(0);
    const catalog = JSON.parse(result.stdout) as Array<{ name: string; destructive: boolean; fields: Array<{ name: string }>; outputs: Array<{ name: string }> }>;
    expect(catalog.map((action) => action.name)).toEqual(ACTIONS.map((action) => action.name));
    expect(catalog.filter((action) => action.destructive).map((action) => action.name)).toEqual(['remove-certificate', 'new-edge-subscription-file', 'remove-edge-certificate']);
    expect(catalog.find((action) => action.name === 'import-certificate')?.outputs.map((output) => output.name)).toEqual(['thumbprint']);
  });

  it('prints a readable list', () => {
    const result = runCli(['actions']);
    expect(result.stdout).toContain('remove-certificate  (Exchange cmdlets, changes the server, destructive: asks for confirmation)');
    expect(result.stdout).toMatch(/^ {4}replaceInternalTransportCertificate +boolean, default false {2}/m);
  });
});
