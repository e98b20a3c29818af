import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { bindParams, parseVarFlags } from '../../src/plan/params.js';
import { analyze } from '../helpers/analyze.js';

const PARAMS = `version: 1
name: params
params:
  text: { type: string, pattern: '[a-z]+' }
  count: { type: number, enum: [1, 2, 3] }
  flag: { type: boolean, default: false }
  items: { type: list, enum: [IIS, SMTP] }
  secret: { type: secret, env: MY_SECRET }
  needed: { type: string, required: true }
steps:
  - id: health
    action: test-service-health
    with: { server: EXCH01 }
`;

async function bind(vars: Record<string, string>) {
  const { runbook } = await analyze(PARAMS);
  return bindParams(runbook!, new Map(Object.entries(vars)));
}

describe('bindParams', () => {
  it('converts values to their types and applies defaults', async () => {
    const values = await bind({ text: 'abc', count: '2', items: 'IIS, SMTP', needed: 'x' });
    expect(Object.fromEntries(values)).toEqual({
      text: { kind: 'value', value: 'abc', source: 'var' },
      count: { kind: 'value', value: 2, source: 'var' },
      flag: { kind: 'value', value: false, source: 'default' },
      items: { kind: 'value', value: ['IIS', 'SMTP'], source: 'var' },
      secret: { kind: 'secret', env: 'MY_SECRET' },
      needed: { kind: 'value', value: 'x', source: 'var' },
    });
  });

  it.each([
    [{ needed: 'x', count: 'two' }, '--var count: expected a number, got "two"'],
    [{ needed: 'x', count: '7' }, '--var count must be one of: 1, 2, 3'],
    [{ needed: 'x', flag: 'yes' }, '--var flag: expected true or false, got "yes"'],
    [{ needed: 'x', text: 'ABC' }, '--var text does not match the pattern [a-z]+'],
    [{ needed: 'x', items: ' , ' }, '--var items: expected a comma-separated list'],
    [{ needed: 'x', secret: 'hunter2' }, "'secret' is a secret and cannot be given on the command line"],
    [{}, "missing required param 'needed'"],
    [{ needed: 'x', neded: 'y' }, "unknown param 'neded' (did you mean 'needed'?)"],
  ])('rejects %j', async (vars, message) => {
    const error = await bind(vars).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toContain(message);
  });

  it('never echoes a secret given on the command line', async () => {
    const error = (await bind({ needed: 'x', secret: 'hunter2-value' }).catch((e: unknown) => e)) as Error;
    expect(error.message).not.toContain('hunter2-value');
  });
});

describe('parseVarFlags', () => {
  it('splits at the first = and lets the last flag win', () => {
    expect(Object.fromEntries(parseVarFlags(['a=1', 'b=x=y', 'a=2', 'c=']))).toEqual({ a: '2', b: 'x=y', c: '' });
  });

  it('rejects a flag without KEY=', () => {
    expect(() => parseVarFlags(['=1'])).toThrow(InputError);
    expect(() => parseVarFlags(['server'])).toThrow('is not KEY=VALUE');
  });
});
