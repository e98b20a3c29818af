import { ExitCode } from '../../errors.js';
import { buildRunbookJsonSchema } from '../../runbook/json-schema.js';
import type { CliIo } from '../terminal.js';

/** `exch-cert schema`: the runbook JSON Schema, generated from the zod schemas. */
export function schemaCommand(io: CliIo): number {
  io.stdout.write(JSON.stringify(buildRunbookJsonSchema(), null, 2) + '\n');
  return ExitCode.ok;
}
