import * as z from 'zod';
import type { ActionDefinition } from '../actions/action.js';
import type { FieldSpec } from '../actions/fields.js';
import { ACTIONS } from '../actions/index.js';
import { runbookHeaderShape, stepCommonShape } from './schema.js';

const TEMPLATE = z
  .string()
  .regex(/\$\{\{\s*(?:params\.[A-Za-z][A-Za-z0-9_]*|steps\.[a-z][a-z0-9-]*\.outputs\.[A-Za-z][A-Za-z0-9_]*)\s*\}\}/)
  .meta({ description: 'A template: ${{ params.NAME }} or ${{ steps.ID.outputs.NAME }}' });
const SECRET_TEMPLATE = z
  .string()
  .regex(/^\$\{\{\s*params\.[A-Za-z][A-Za-z0-9_]*\s*\}\}$/)
  .meta({ description: 'A secret param: ${{ params.NAME }}' });
const MAP_VALUE = z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]);

/** A field as an editor should see it: its literal form, or a template. */
function editorField(spec: FieldSpec): z.ZodType {
  let schema: z.ZodType;
  switch (spec.type) {
    case 'secret':
      schema = SECRET_TEMPLATE;
      break;
    case 'map':
      schema = z.record(z.string(), MAP_VALUE);
      break;
    case 'list':
      schema = z.union([z.array(z.string()), TEMPLATE]);
      break;
    default:
      schema = z.union([spec.schema, TEMPLATE]);
  }
  schema = schema.meta({ description: spec.description, ...(spec.default !== undefined ? { default: spec.default } : {}) });
  return spec.required ? schema : schema.optional();
}

function stepSchemaFor(action: ActionDefinition): z.ZodObject {
  const fields = Object.fromEntries(Object.entries(action.fields).map(([name, spec]) => [name, editorField(spec)]));
  const anyRequired = Object.values(action.fields).some((spec) => spec.required);
  const withSchema = z.strictObject(fields).meta({ description: `Inputs of ${action.name}.` });
  return z
    .strictObject({
      ...stepCommonShape,
      action: z.literal(action.name).meta({ description: action.summary }),
      with: anyRequired ? withSchema : withSchema.optional(),
    })
    .meta({ id: `step-${action.name}`, title: action.name, description: action.summary });
}

/** The runbook schema with every action's `with` spelled out, for editors and `exch-cert schema`. */
export function buildRunbookJsonSchema(): Record<string, unknown> {
  const step = z.discriminatedUnion(
    'action',
    ACTIONS.map(stepSchemaFor) as unknown as [z.ZodObject, z.ZodObject, ...z.ZodObject[]],
  ).meta({ id: 'step', description: 'A step: an action and its inputs.' });
  const runbook = z
    .strictObject({
      ...runbookHeaderShape,
      steps: z.array(step).min(1).meta({ id: 'steps', description: 'The steps, run in order.' }),
      onFailure: z.array(step).optional().meta({ description: 'Steps run, in order, when a step fails (rollback).' }),
    })
    .meta({ title: 'exch-cert runbook', description: 'A runbook for exch-cert: YAML steps compiled to PowerShell (see the README).' });
  return z.toJSONSchema(runbook, { target: 'draft-7', io: 'input', unrepresentable: 'any' });
}
