// `npm run bench`: the speed targets of exch-cert, measured as medians of
// interleaved runs and reported as ratios to a baseline measured in the same
// loop, so a busy machine slows both sides alike. Never a pass/fail test:
// the numbers go into the README and the release notes.
//
//   node bench/run.mjs [--quick] [--only NAME[,NAME]]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'dist', 'bin.js');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyIndex = args.indexOf('--only');
const only = onlyIndex === -1 ? undefined : new Set(args[onlyIndex + 1]?.split(','));

if (!existsSync(bin)) {
  console.error('bench: dist/bin.js is missing; run `npm run build` (npm ci does it) first');
  process.exit(2);
}

/** Wall-clock milliseconds of one run of a command; fails loudly if the command fails. */
function time(command, commandArgs, options = {}) {
  const start = process.hrtime.bigint();
  const result = spawnSync(command, commandArgs, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', ...options });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== (options.expectStatus ?? 0)) {
    throw new Error(`${command} ${commandArgs.join(' ')} exited ${result.status}: ${result.stderr}`);
  }
  return ms;
}

/** Peak resident memory (KiB) of one run, from GNU time when it is installed. */
function peakRssKiB(command, commandArgs, options = {}) {
  if (!existsSync('/usr/bin/time')) return undefined;
  const result = spawnSync('/usr/bin/time', ['-f', '%M', command, ...commandArgs], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', ...options });
  const last = result.stderr.trim().split('\n').pop();
  return Number(last);
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** Runs each contender in turn, `rounds` times, and returns the medians. */
function interleave(rounds, contenders) {
  const samples = contenders.map(() => []);
  for (let warmup = 0; warmup < 2; warmup++) contenders.forEach((run) => run());
  for (let round = 0; round < rounds; round++) contenders.forEach((run, i) => samples[i].push(run()));
  return samples.map(median);
}

const results = [];
function report(name, figures, target) {
  results.push({ name, ...figures, target });
  const text = Object.entries(figures)
    .map(([key, value]) => `${key}=${typeof value === 'number' ? value.toFixed(key.includes('ratio') ? 2 : 1) : value}`)
    .join('  ');
  console.log(`${name.padEnd(34)} ${text}${target ? `  (target ${target})` : ''}`);
}

const want = (name) => only === undefined || only.has(name);
const node = process.execPath;
const renewArgs = ['renew', '--server', 'EXCH01', '--pfx', 'C:\\certs\\new.pfx', '--fqdn', 'mail.contoso.com', '--dry-run'];

if (want('cold-start')) {
  const [baseline, version] = interleave(quick ? 10 : 40, [() => time(node, ['-e', '0']), () => time(node, [bin, '--version'])]);
  report('cold start: --version', { node_ms: baseline, exch_cert_ms: version, ratio: version / baseline }, '<= 1.3');
}

if (want('dry-run')) {
  const [baseline, dryRun] = interleave(quick ? 10 : 30, [() => time(node, ['-e', '0']), () => time(node, [bin, ...renewArgs])]);
  report('renew --dry-run', { node_ms: baseline, exch_cert_ms: dryRun, ratio: dryRun / baseline, peak_rss_kib: peakRssKiB(node, [bin, ...renewArgs]) }, '<= 2.5x node -e 0');
}

if (want('lint-1000')) {
  const dir = mkdtempSync(join(tmpdir(), 'exch-cert-bench-lint-'));
  try {
    writeCorpus(dir, 1000);
    const [lint] = interleave(quick ? 3 : 7, [() => time(node, [bin, 'lint', dir], { expectStatus: 1 })]);
    report('lint 1,000 runbooks', { wall_ms: lint, per_file_ms: lint / 1000, peak_rss_kib: peakRssKiB(node, [bin, 'lint', dir]) }, '<= 1500 ms');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A corpus like a big estate's: variations of the shipped runbooks, one in
 * ten with a mistake to report, one in twenty with a powershell step (which
 * loads the PowerShell parser).
 */
function writeCorpus(dir, count) {
  const sources = ['renew-certificate', 'new-self-signed-certificate', 'validate-exchange'].map((name) => readFileSync(join(root, 'runbooks', `${name}.yaml`), 'utf8'));
  for (let i = 0; i < count; i++) {
    let text = sources[i % sources.length].replace(/^name: (.*)$/m, `name: $1-${i}`);
    if (i % 10 === 3) text = text.replace('action: test-service-health', 'action: test-service-helth');
    if (i % 20 === 7) {
      text += `  - id: custom-${i}\n    action: powershell\n    with:\n      script: |\n        $q = @(Get-Queue)\n        if ($q.Count -gt ${i}) { Write-Warning 'queues are long' }\n`;
    }
    writeFileSync(join(dir, `runbook-${String(i).padStart(4, '0')}.yaml`), text);
  }
}

if (args.includes('--json')) console.log(JSON.stringify(results, null, 2));
