import { lines, hostBlock } from '../../powershell/script.js';
import { PARAM_NAME_PATTERN } from '../../runbook/schema.js';
import { defineAction, type Outputs } from '../action.js';
import { field } from '../fields.js';

/**
 * The escape hatch: a script written in the runbook. Values reach it only
 * through `arguments` (as `$ExchCertArguments['name']`), never by splicing
 * templates into the code; lint warns on every use and checks that the
 * script parses under Windows PowerShell 5.1.
 */
export const powershell = defineAction({
  name: 'powershell',
  summary: 'Run a PowerShell script written in the runbook (escape hatch; lint warns).',
  runsOn: 'script',
  exchangeCmdlets: (input) => (input.has('exchangeCmdlets') ? input.list('exchangeCmdlets') : []),
  changes: true,
  destructive: false,
  verbatimBody: true,
  fields: {
    script: field.string('The PowerShell code. Templates are not expanded here: pass values with arguments.', { required: true, multiline: true, planTime: true }),
    arguments: field.map('Values for the script, available as $ExchCertArguments[NAME]; each a literal or a template.'),
    target: field.string("Where to run: 'exchange' (the Exchange session) or 'host' (the server's operating system).", {
      default: 'exchange',
      enum: ['exchange', 'host'],
      planTime: true,
    }),
    server: field.string('The Exchange server, for target: host.', {}),
    exchangeCmdlets: field.list('The Exchange cmdlets the script calls (target: exchange), imported from the Exchange session for it.', {
      pattern: /^[A-Za-z]+-[A-Za-z0-9]+$/,
      patternMessage: 'expected cmdlet names such as Get-Mailbox',
      planTime: true,
    }),
    outputs: field.list('Names of outputs the script sets with Set-ExchCertOutput -Name NAME -Value VALUE (target: exchange only).', {
      pattern: PARAM_NAME_PATTERN,
      patternMessage: 'output names are letters, digits and _',
      planTime: true,
    }),
  },
  outputs: (rawWith) => {
    const names = Array.isArray(rawWith['outputs']) ? rawWith['outputs'].filter((n): n is string => typeof n === 'string') : [];
    const outputs: Record<string, Outputs[string]> = {};
    for (const name of names) outputs[name] = { type: 'string', description: 'Set by the script.' };
    return outputs;
  },
  checkFields: (rawWith) => {
    const onHost = rawWith['target'] === 'host';
    if (onHost && !('server' in rawWith)) return 'a script with target: host needs server (the Exchange server to run on)';
    if (!onHost && 'server' in rawWith) return 'server is only used with target: host';
    if (onHost && 'outputs' in rawWith) return 'outputs can only be set by scripts with target: exchange';
    if (onHost && 'exchangeCmdlets' in rawWith) return 'exchangeCmdlets are for scripts with target: exchange';
    return undefined;
  },
  title: () => 'Run a custom PowerShell script',
  compile: (input) => {
    const argumentsExpression = input.has('arguments') ? input.expr('arguments') : '@{}';
    if (input.string('target') === 'host') {
      return hostBlock(input.expr('server'), [['ExchCertArguments', argumentsExpression]], input.string('script'), { verbatim: true });
    }
    return lines(`$ExchCertArguments = ${argumentsExpression}`, input.string('script'));
  },
});
