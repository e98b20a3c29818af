import { InputError } from '../errors.js';
import type { Runbook, Step } from '../runbook/model.js';

/** The first step of the second half of runbooks/maintenance-mode.yaml: bringing the server back. */
export const MAINTENANCE_EXIT_STEP = 'server-online';

/** Actions that interrupt clients of a server: maintenance mode spans them. */
const DISRUPTIVE_ACTIONS: ReadonlySet<string> = new Set(['restart-services', 'iis-reset']);
const CHECKS_AFTER_RESTART: ReadonlySet<string> = new Set(['verify-tls', 'test-service-health']);

/** A renewal wrapped in maintenance mode, and which of its steps put the server in and out of it. */
export interface MaintenancePlan {
  readonly runbook: Runbook;
  /** The steps that take the server out of service; once one ran, the server is in maintenance. */
  readonly enterSteps: readonly string[];
  /** The steps that bring it back and check it, in the main steps and in onFailure. */
  readonly exitSteps: readonly string[];
  readonly rollbackExitSteps: readonly string[];
}

/**
 * Puts a renewal between the two halves of the maintenance runbook, as one runbook (one plan, one
 * session, one journal per server; the dry run shows all of it):
 *
 * 1. the read-only steps each begins with (the maintenance runbook's record of its components, the
 *    renewal's preflight), so that a preflight (`until: 'first-change'`) runs all of them;
 * 2. the rest of maintenance's first half (drain, redirect, wait for the queues, offline);
 * 3. the renewal up to its last restart and the health checks right after it;
 * 4. maintenance's second half (online, transport active, every component checked);
 * 5. the rest of the renewal (backup and removal of the old certificate, which clients do not notice).
 *
 * onFailure runs the renewal's rollback, then maintenance's: a failed renewal still brings the server
 * back, and a failure there leaves the run saying so (exit 4). Step ids and params must not clash.
 */
export function composeMaintenance(renewal: Runbook, maintenance: Runbook): MaintenancePlan {
  const split = maintenance.steps.findIndex((step) => step.id === MAINTENANCE_EXIT_STEP);
  if (split < 0) throw new InputError(`${maintenance.file} has no step ${MAINTENANCE_EXIT_STEP}, where maintenance mode's second half begins`);
  const enter = maintenance.steps.slice(0, split);
  const exit = maintenance.steps.slice(split);
  const [maintenanceChecks, entering] = splitLeadingReadOnly(enter);
  const [renewalChecks, renewing] = splitLeadingReadOnly(renewal.steps);
  const lastRestart = lastIndexWhere(renewing, (step) => DISRUPTIVE_ACTIONS.has(step.action.name));
  let until = lastRestart;
  // The checks right after the restarts (clients get the new certificate, the services run) belong before maintenance ends.
  while (until + 1 < renewing.length && CHECKS_AFTER_RESTART.has(renewing[until + 1]?.action.name ?? '')) until++;
  if (lastRestart < 0) until = renewing.length - 1;
  const steps = [...maintenanceChecks, ...renewalChecks, ...entering, ...renewing.slice(0, until + 1), ...exit, ...renewing.slice(until + 1)];
  const onFailure = [...renewal.onFailure, ...maintenance.onFailure];
  const ids = new Set<string>();
  for (const step of [...steps, ...onFailure]) {
    if (ids.has(step.id)) throw new InputError(`${renewal.file} and ${maintenance.file} both have a step ${step.id}; rename one of them`);
    ids.add(step.id);
  }
  return {
    runbook: {
      file: `${renewal.file} + ${maintenance.file}`,
      name: `${renewal.name}+${maintenance.name}`,
      description: renewal.description,
      params: mergeParams(renewal, maintenance),
      steps: steps.map((step, index) => ({ ...step, index })),
      onFailure: onFailure.map((step, index) => ({ ...step, index })),
      text: `${renewal.text}\n---\n${maintenance.text}`,
    },
    enterSteps: entering.filter((step) => step.action.changes).map((step) => step.id),
    exitSteps: exit.filter((step) => step.action.name !== 'test-service-health').map((step) => step.id),
    rollbackExitSteps: maintenance.onFailure.map((step) => step.id),
  };
}

/** The read-only steps a list starts with, and the rest. */
function splitLeadingReadOnly(steps: readonly Step[]): [Step[], Step[]] {
  const first = steps.findIndex((step) => step.action.changes);
  return first < 0 ? [[...steps], []] : [steps.slice(0, first), steps.slice(first)];
}

function lastIndexWhere<T>(items: readonly T[], test: (item: T) => boolean): number {
  for (let index = items.length - 1; index >= 0; index--) if (test(items[index] as T)) return index;
  return -1;
}

/** Both runbooks' params; one named in both must be the same kind of value (the server is). */
function mergeParams(renewal: Runbook, maintenance: Runbook): Runbook['params'] {
  const params = new Map(renewal.params);
  for (const [name, definition] of maintenance.params) {
    const mine = params.get(name);
    if (mine === undefined) params.set(name, definition);
    else if (mine.type !== definition.type) throw new InputError(`param ${name} is ${article(mine.type)} in ${renewal.file} but ${article(definition.type)} in ${maintenance.file}`);
  }
  return params;
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}
