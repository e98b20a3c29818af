import { psLiteral } from '../powershell/quote.js';
import { commentText, lines } from '../powershell/script.js';
import type { Plan, PlannedParam, PlannedStep } from './compile.js';
import { describeConnection } from './connection.js';

/**
 * The whole plan as one PowerShell script: what `--dry-run` prints and
 * `--output` writes. Every block exch-cert sends appears here verbatim, in
 * order; the only other code is the try/catch/finally that stands in for
 * exch-cert when the file is run by hand.
 */
export function renderScript(plan: Plan): string {
  const mainSteps = plan.steps.map((step) => renderStep(step));
  const rollback = plan.onFailure.map((step) => (step.skipped ? skippedHeader(step) : lines('try {', step.script, '}', 'catch {', "    Write-Warning ('exch-cert: onFailure step " + step.id + " failed: ' + $_.Exception.Message)", '}')));
  return (
    lines(
      renderHeader(plan),
      '',
      plan.prologue,
      '',
      '# ---- steps ----',
      'try {',
      mainSteps.join('\n\n'),
      '}',
      'catch {',
      '    $exchCertFailure = $_',
      "    Write-Host ('exch-cert: stopped: ' + $exchCertFailure.Exception.Message)",
      plan.onFailure.length > 0 && lines('# ---- onFailure steps: run only when a step fails ----', rollback.join('\n\n')),
      '    throw $exchCertFailure',
      '}',
      'finally {',
      plan.epilogue,
      '}',
    ) + '\n'
  );
}

function renderStep(step: PlannedStep): string {
  if (step.skipped) return skippedHeader(step);
  if (!step.continueOnError) return step.script;
  return lines('try {', step.script, '}', 'catch {', "    Write-Warning ('exch-cert: step " + step.id + " failed, continuing (continueOnError): ' + $_.Exception.Message)", '}');
}

function skippedHeader(step: PlannedStep): string {
  const label = step.phase === 'steps' ? `[${step.position}/${step.total}]` : `[onFailure ${step.position}/${step.total}]`;
  return lines(`# ${label} ${step.id}: ${commentText(step.title)}`, `#   skipped: ${commentText(step.skipped ?? '')}`);
}

function renderHeader(plan: Plan): string {
  const width = Math.max(0, ...plan.params.map((param) => param.name.length));
  return lines(
    `# exch-cert ${plan.tool.version} plan for runbook ${commentText(plan.runbook.name)} (${commentText(plan.runbook.file)})`,
    plan.runbook.description !== undefined && `# ${commentText(plan.runbook.description.trim())}`,
    '#',
    '# This is the script exch-cert runs. `exch-cert run` sends the prologue, each',
    "# step block (from its '# [n/N]' line through its closing brace) and the",
    '# epilogue to one PowerShell session, in this order, exactly as printed.',
    '# The try/catch/finally lines stand in for exch-cert when this file is run',
    '# by hand: they stop at the first failing step and run the onFailure steps.',
    '# Timeouts, retries and confirmations are applied by exch-cert only.',
    '#',
    `# Connection: ${commentText(describeConnection(plan.connection))}`,
    plan.params.length > 0 && '# Parameters:',
    ...plan.params.map((param) => `#   ${param.name.padEnd(width)} = ${describeParam(param)}`),
    plan.runtimeValues.length > 0 && '# Known only at run time (the script reads them with Get-ExchCertOutput):',
    ...plan.runtimeValues.map((value) => `#   ${value.reference}`),
  );
}

function describeParam(param: PlannedParam): string {
  switch (param.source) {
    case 'environment':
      return `secret, read at run time from $env:${param.env ?? ''}`;
    case 'unset':
      return '(not set)';
    default:
      return `${commentText(psLiteral(param.value ?? null))}${param.source === 'default' ? ' (default)' : ''}`;
  }
}

/** The script as a .ps1 file that Windows PowerShell 5.1 reads correctly: UTF-8 with BOM, CRLF line ends. */
export function encodePs1File(script: string): Buffer {
  return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(script.replace(/\r?\n/g, '\r\n'), 'utf8')]);
}
