import type { RunResult, StepResult } from '../engine/execute.js';
import type { ResumeState } from '../engine/journal.js';
import { ExitCode } from '../errors.js';
import type { ServerOutcome, ServerSummary } from './events.js';

/** Which steps of a server's plan put it in and out of maintenance (from composeMaintenance). */
export interface MaintenanceSteps {
  readonly enterSteps: readonly string[];
  readonly exitSteps: readonly string[];
  readonly rollbackExitSteps: readonly string[];
}

/**
 * Worst first: a server left changed, then a failure, one that could not be reached, a stop, a
 * refused confirmation. The fleet's exit code is its worst server's.
 */
const SEVERITY: readonly number[] = [ExitCode.leftChanged, ExitCode.failed, ExitCode.environment, ExitCode.interrupted, ExitCode.confirmationRequired, ExitCode.usage, ExitCode.ok];

/** The worst of several exit codes (0 when there are none). */
export function worstExitCode(codes: readonly number[]): number {
  let worst: number = ExitCode.ok;
  for (const code of codes) if (rank(code) < rank(worst)) worst = code;
  return worst;
}

function rank(code: number): number {
  const index = SEVERITY.indexOf(code);
  return index < 0 ? 0 : index;
}

/** A server's line of the summary from its renewal run. */
export function summarizeRun(server: string, runId: string, result: RunResult, maintenance: MaintenanceSteps | undefined, resume: ResumeState | undefined): ServerSummary {
  const outcome = outcomeOf(result);
  const inMaintenance = maintenance !== undefined && leftInMaintenance(result.steps, maintenance, resume);
  const note = inMaintenance ? `. ${server} is still in maintenance mode (out of service)` : '';
  return { server, runId, outcome, exitCode: result.exitCode, message: `${result.message}${note}`, inMaintenance };
}

function outcomeOf(result: RunResult): ServerOutcome {
  switch (result.outcome) {
    case 'ok':
      return 'renewed';
    case 'failed':
      return result.exitCode === ExitCode.leftChanged ? 'left-changed' : 'failed';
    case 'environment':
      return 'unreachable';
    case 'interrupted':
      return 'interrupted';
    case 'declined':
      return 'declined';
  }
}

/**
 * In maintenance: a step that takes the server out of service changed it (in this run, or in the run
 * it resumes), and neither the way back in the main steps nor the one in onFailure all succeeded
 * (skipped counts: done in the run resumed, or a check with nothing to check).
 */
function leftInMaintenance(steps: readonly StepResult[], maintenance: MaintenanceSteps, resume: ResumeState | undefined): boolean {
  const entered = maintenance.enterSteps.some((id) => steps.some((step) => step.id === id && step.phase === 'steps' && step.changedServer) || resume?.completed.get(id)?.status === 'changed');
  if (!entered) return false;
  const succeeded = (ids: readonly string[], phase: StepResult['phase']): boolean =>
    ids.every((id) => steps.some((step) => step.id === id && step.phase === phase && (step.status === 'ok' || step.status === 'changed' || step.status === 'skipped')));
  return !(succeeded(maintenance.exitSteps, 'steps') || succeeded(maintenance.rollbackExitSteps, 'onFailure'));
}
