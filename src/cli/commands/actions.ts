import { outputsOf } from '../../actions/action.js';
import { ACTIONS } from '../../actions/index.js';
import { ExitCode } from '../../errors.js';
import type { CliIo, Terminal } from '../terminal.js';

/** `exch-cert actions`: the catalog, with fields, outputs and whether each action is destructive. */
export function actionsCommand(options: { json?: boolean }, io: CliIo, terminal: Terminal): number {
  const catalog = ACTIONS.map((action) => ({
    name: action.name,
    summary: action.summary,
    runsOn: action.runsOn,
    changes: action.changes,
    destructive: action.destructive,
    fields: Object.entries(action.fields).map(([name, spec]) => ({
      name,
      type: spec.type,
      required: spec.required,
      ...(spec.default !== undefined ? { default: spec.default } : {}),
      description: spec.description,
    })),
    outputs: Object.entries(outputsOf(action, {})).map(([name, spec]) => ({ name, type: spec.type, description: spec.description })),
  }));
  if (options.json) {
    io.stdout.write(JSON.stringify(catalog, null, 2) + '\n');
    return ExitCode.ok;
  }
  const { color } = terminal;
  const blocks = catalog.map((action) => {
    const flags = [action.runsOn === 'host' ? 'runs on the server OS' : action.runsOn === 'script' ? 'raw script' : 'Exchange cmdlets', action.changes ? 'changes the server' : 'read-only'];
    if (action.destructive) flags.push(color.red('destructive: asks for confirmation'));
    const lines = [`${color.bold(action.name)}  ${color.dim(`(${flags.join(', ')})`)}`, `  ${action.summary}`, '  with:'];
    for (const field of action.fields) {
      const detail = [field.type, field.required ? 'required' : field.default !== undefined ? `default ${JSON.stringify(field.default)}` : 'optional'].join(', ');
      lines.push(`    ${field.name.padEnd(36)} ${color.dim(detail)}  ${field.description}`);
    }
    lines.push(action.outputs.length > 0 ? '  outputs:' : '  outputs: none');
    for (const output of action.outputs) lines.push(`    ${output.name.padEnd(36)} ${color.dim(output.type)}  ${output.description}`);
    return lines.join('\n');
  });
  io.stdout.write(blocks.join('\n\n') + '\n');
  return ExitCode.ok;
}
