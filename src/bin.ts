#!/usr/bin/env node
// The entry point stays tiny: `--version` answers without loading any module,
// everything else loads the CLI on demand.
import { VERSION } from './version.js';

const [, , first, second] = process.argv;
if ((first === '--version' || first === '-V') && second === undefined) {
  process.stdout.write(`${VERSION}\n`);
} else {
  const { main } = await import('./cli/main.js');
  process.exitCode = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
  });
}
