import * as z from 'zod';
import { compileParamPattern } from './pattern.js';

/** The only runbook format version this exch-cert understands. */
export const RUNBOOK_VERSION = 1;

export const STEP_ID_PATTERN = /^[a-z][a-z0-9-]*$/;
export const RUNBOOK_NAME_PATTERN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
export const PARAM_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]*$/;
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const DURATION_PATTERN = /^([1-9][0-9]*)(ms|s|m|h)$/;
/** A value that is exactly one template, e.g. `${{ params.restart }}`. */
export const SOLE_TEMPLATE_PATTERN = /^\$\{\{\s*(?:params\.[A-Za-z][A-Za-z0-9_]*|steps\.[a-z][a-z0-9-]*\.outputs\.[A-Za-z][A-Za-z0-9_]*)\s*\}\}$/;

const DURATION_UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
/** Timeouts and delays above a day are typos, not intentions. */
export const MAX_DURATION_MS = 24 * 3_600_000;

/** Milliseconds in a duration such as `90s` or `10m`; undefined when it is not one. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text);
  if (!match?.[1] || !match[2]) return undefined;
  return Number(match[1]) * DURATION_UNIT_MS[match[2] as keyof typeof DURATION_UNIT_MS];
}

export const DurationSchema = z
  .string()
  .regex(DURATION_PATTERN, { message: 'expected a duration such as 500ms, 90s, 10m or 1h' })
  .refine((text) => (parseDuration(text) ?? 0) <= MAX_DURATION_MS, { message: 'durations are limited to 24h' })
  .meta({ description: 'A duration: a whole number and a unit, ms, s, m or h (e.g. 90s, 10m).' });

const paramCommon = {
  description: z.string().optional().meta({ description: 'What the parameter is for; shown by `exch-cert run --help`-style listings.' }),
  required: z.boolean().optional().meta({ description: 'Fail before running when no value is given and there is no default.' }),
};

const patternField = z
  .string()
  .superRefine((pattern, context) => {
    const compiled = compileParamPattern(pattern);
    if (!compiled.ok) context.addIssue({ code: 'custom', message: `not a pattern exch-cert can match in linear time: ${compiled.reason}` });
  })
  .optional()
  .meta({ description: 'A regular expression (RE2 syntax, which has no backreferences or lookaround; JavaScript escapes such as \\u00e9 work), matched against the whole value.' });

const StringParamSchema = z.strictObject({
  type: z.literal('string'),
  ...paramCommon,
  default: z.string().optional(),
  pattern: patternField,
  enum: z.array(z.string()).min(1).optional(),
});

const NumberParamSchema = z.strictObject({
  type: z.literal('number'),
  ...paramCommon,
  default: z.number().optional(),
  enum: z.array(z.number()).min(1).optional(),
});

const BooleanParamSchema = z.strictObject({
  type: z.literal('boolean'),
  ...paramCommon,
  default: z.boolean().optional(),
});

const ListParamSchema = z.strictObject({
  type: z.literal('list'),
  ...paramCommon,
  default: z.array(z.string()).optional(),
  pattern: patternField.meta({ description: 'A regular expression that every item must match.' }),
  enum: z.array(z.string()).min(1).optional().meta({ description: 'The values items may take.' }),
});

const SecretParamSchema = z.strictObject({
  type: z.literal('secret'),
  ...paramCommon,
  env: z
    .string()
    .regex(ENV_NAME_PATTERN, { message: 'expected an environment variable name such as EXCH_CERT_PFX_PASSWORD' })
    .meta({ description: 'The environment variable that holds the secret at run time. Secrets are never written in a runbook.' }),
  // Declared only so the plaintext-secret rule can explain the problem; any value is an error.
  default: z.unknown().optional().meta({ description: 'Not allowed: a secret comes only from its environment variable.', not: {} }),
});

export const ParamSchema = z.discriminatedUnion('type', [StringParamSchema, NumberParamSchema, BooleanParamSchema, ListParamSchema, SecretParamSchema]);

export type ParamDefinition = z.infer<typeof ParamSchema>;

/** Fields every step has, whatever its action. `with` is validated per action. */
export const stepCommonShape = {
  id: z
    .string()
    .regex(STEP_ID_PATTERN, { message: 'expected a lowercase id: a letter, then letters, digits and hyphens' })
    .meta({ description: 'Unique step id; later steps read its outputs as ${{ steps.ID.outputs.NAME }}.' }),
  title: z.string().min(1).optional().meta({ description: 'What the step does, for people. Defaults to a title made from the action.' }),
  when: z
    .union([
      z.boolean(),
      z.string().regex(SOLE_TEMPLATE_PATTERN, { message: 'expected true, false or one template such as ${{ params.restart }}' }),
      z
        .array(z.string().regex(SOLE_TEMPLATE_PATTERN, { message: 'expected one template such as ${{ steps.enable.outputs.changed }}' }))
        .min(1, { message: 'needs at least one template' }),
    ])
    .optional()
    .meta({ description: 'Run the step only when this is true: a boolean, a single template that resolves to a boolean, or a list of them (any one true).' }),
  timeout: DurationSchema.optional().meta({ description: 'Per attempt; the shell is killed and replaced when it expires (e.g. 90s, 10m).' }),
  retries: z
    .number()
    .int({ message: 'must be a whole number' })
    .min(0, { message: 'must be between 0 and 10' })
    .max(10, { message: 'must be between 0 and 10' })
    .optional().meta({ description: 'How many times to try again after a failure (0 to 10).' }),
  retryDelay: DurationSchema.optional().meta({ description: 'Wait between attempts (e.g. 10s).' }),
  continueOnError: z.boolean().optional().meta({ description: 'Carry on with the next step when this one fails.' }),
  commit: z
    .boolean()
    .optional()
    .meta({ description: 'Once this step succeeds the change is done: a later step that fails no longer runs onFailure (the run ends done, with a warning saying what was left undone).' }),
  confirm: z.boolean().optional().meta({ description: 'Ask before running this step (destructive actions always ask).' }),
};

/** A step as validated before its action is known: `with` is any mapping. */
export const StepBaseSchema = z.strictObject({
  ...stepCommonShape,
  action: z.string().meta({ description: 'The action to run; `exch-cert actions` lists them.' }),
  with: z.record(z.string(), z.unknown()).optional(),
});

export type StepBase = z.infer<typeof StepBaseSchema>;

export const runbookHeaderShape = {
  version: z.literal(RUNBOOK_VERSION, { message: `unsupported runbook version; this exch-cert reads version ${RUNBOOK_VERSION}` }),
  name: z
    .string()
    .regex(RUNBOOK_NAME_PATTERN, { message: 'expected a kebab-case name such as renew-certificate' })
    .meta({ description: 'Kebab-case runbook name.' }),
  description: z.string().optional(),
  params: z
    .record(z.string().regex(PARAM_NAME_PATTERN, { message: 'parameter names are letters, digits and _' }), ParamSchema)
    .optional()
    .meta({ description: 'Inputs of the runbook, set with --var NAME=VALUE (secrets come from the environment).' }),
};
