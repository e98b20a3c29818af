import { hostBlock, indent, lines } from '../../powershell/script.js';
import { defineAction } from '../action.js';
import { field } from '../fields.js';

/**
 * iisreset, with /noforce by default so IIS is not killed while it cannot stop cleanly. IIS serves
 * a newly enabled certificate only after this. It also ends the Exchange PowerShell session (the
 * /PowerShell endpoint lives in IIS), so the next Exchange step connects again.
 */
export const iisReset = defineAction({
  name: 'iis-reset',
  summary: 'Restart IIS on the Exchange server (iisreset /noforce by default).',
  runsOn: 'host',
  exchangeCmdlets: [],
  changes: true,
  destructive: false,
  fields: {
    server: field.server(),
    force: field.boolean('Allow iisreset to kill IIS when it does not stop cleanly (drops /noforce).', { default: false, planTime: true }),
  },
  outputs: {},
  title: (input) => `Restart IIS on ${input.describe('server')}${input.boolean('force') ? '' : ' (iisreset /noforce)'}`,
  compile: (input) =>
    lines(
      'try {',
      indent(hostBlock(
        input.expr('server'),
        [],
        lines(
          // No 2>&1: Windows PowerShell 5.1 turns native stderr into a terminating error under 'Stop'.
          input.boolean('force') ? '$output = iisreset' : '$output = iisreset /noforce',
          "if ($LASTEXITCODE -ne 0) { throw ('exch-cert: iisreset failed with exit code ' + $LASTEXITCODE + ': ' + (@($output) -join ' ')) }",
          "Write-Host ('exch-cert: ' + (@($output) -join ' '))",
        ),
      )),
      '} finally {',
      '    $global:ExchCert.Reconnect = $true',
      '}',
    ),
});
