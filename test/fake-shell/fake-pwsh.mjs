#!/usr/bin/env node
// A stand-in for `pwsh -Command -` that speaks node-powershell's stdin framing:
// it echoes the `[Console]::Out/Error.WriteLine("…")` delimiter lines to the
// right stream, answers exch-cert's handshake, and runs a wrapped block by
// decoding its Base64 and obeying `#fake: VERB ARG` lines in it, in order:
//   log TEXT | stderr TEXT | sleep MS | pid | env | spawn | exit CODE
//   step ID STATUS {json outputs} | throw MESSAGE | no-envelope | garbage
// FAKE_PWSH_MODE=exit-at-start | hang-handshake | bad-handshake | powershell-4 breaks start-up.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

const mode = process.env.FAKE_PWSH_MODE;
if (mode === 'exit-at-start') {
  process.stderr.write('fake-pwsh: cannot start\n');
  process.exit(7);
}
const out = (text) => process.stdout.write(`${text}\n`);
const err = (text) => process.stderr.write(`${text}\n`);
const forever = () => sleep(2 ** 31 - 1);
const envelope = (nonce, value) => out(`<<${nonce} ${Buffer.from(JSON.stringify(value)).toString('base64')} ${nonce}>>`);

/** @param {string} nonce */
async function handshake(nonce) {
  if (mode === 'hang-handshake') await forever();
  if (mode === 'powershell-4') return out(`<<${nonce}  4.0 ${nonce}>>`);
  out(mode === 'bad-handshake' ? 'Welcome to some other shell' : `<<${nonce} Core 7.99.0-fake ${nonce}>>`);
}

/** @param {string} line @param {string} nonce */
async function block(line, nonce) {
  const script = Buffer.from(/^Invoke-ExchCertBlock '([^']*)'/.exec(line)?.[1] ?? '', 'base64').toString('utf8');
  let result = { ok: true, step: null };
  for (const match of script.matchAll(/^#fake: (\S+) ?(.*)$/gm)) {
    const [, verb, arg] = match;
    const lineNumber = script.slice(0, match.index).split('\n').length;
    if (verb === 'log') out(arg);
    else if (verb === 'stderr') err(arg);
    else if (verb === 'sleep') await sleep(Number(arg));
    else if (verb === 'pid') out(`pid ${process.pid}`);
    else if (verb === 'env') out(`env ${JSON.stringify(process.env)}`);
    // A child that itself has a child, both holding our stdout: the tree kill must get both.
    else if (verb === 'spawn') out(`child ${spawn('sh', ['-c', 'sleep 300 & echo "grandchild $!"; wait'], { stdio: ['ignore', 'inherit', 'inherit'] }).pid}`);
    else if (verb === 'exit') process.exit(Number(arg));
    else if (verb === 'step') {
      const [id, status, ...outputs] = arg.split(' ');
      result = { ok: true, step: { Id: id, Status: status, Outputs: /** @type {unknown} */ (JSON.parse(outputs.join(' ') || '{}')) } };
    }
    else if (verb === 'throw') result = { ok: false, error: { message: arg, category: 'OperationStopped', fqid: arg, line: lineNumber } };
    else result = verb; // no-envelope, garbage
  }
  if (result === 'garbage') out(`<<${nonce} this-is-not-base64! ${nonce}>>`);
  else if (result !== 'no-envelope') envelope(nonce, result);
}

const echo = /^\[Console\]::(Out|Error)\.WriteLine\("([^"]*)"\)$/;
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  const delimiter = echo.exec(line);
  const handshakeNonce = /'<<(\w+) '/.exec(line)?.[1];
  const blockNonce = /^Invoke-ExchCertBlock '[^']*' '(\w+)'$/.exec(line)?.[1];
  if (delimiter) (delimiter[1] === 'Out' ? out : err)(delimiter[2]);
  else if (line.includes('$PSVersionTable') && line.includes('function global:Invoke-ExchCertBlock') && handshakeNonce) await handshake(handshakeNonce);
  else if (blockNonce) await block(line, blockNonce);
  // Anything else means the adapter sent something PowerShell would read differently.
  else err(`fake-pwsh: unexpected input: ${line}`);
}
