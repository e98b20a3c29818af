// `npm run bench`: the speed targets of exch-cert, measured as medians of
// interleaved runs and reported as ratios to a baseline measured in the same
// loop, so a busy machine slows both sides alike. Never a pass/fail test:
// the numbers go into the README and the release notes.
//
//   node bench/run.mjs [--quick] [--only NAME[,NAME]]
//   names: cold-start, dry-run, lint-1000, bridge, renewal, fleet, verify-tls
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

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

/** Runs each contender in turn, `rounds` times (after warm-up rounds), and returns the medians. */
function interleave(rounds, contenders, warmups = 1) {
  const samples = contenders.map(() => []);
  for (let warmup = 0; warmup < warmups; warmup++) contenders.forEach((run) => run());
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
const localPwshForLint = join(root, '.tools', process.platform === 'win32' ? 'pwsh.exe' : 'pwsh');
const pwshForLint = existsSync(localPwshForLint) ? localPwshForLint : undefined;
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

/** The floor for a position-keeping YAML linter: read every file and parse it with the yaml package, as lint does. */
const YAML_ONLY = `import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
const { LineCounter, parseDocument } = createRequire(${JSON.stringify(join(root, 'package.json'))})('yaml');
const dir = process.argv[2];
let count = 0;
for (const name of readdirSync(dir).sort()) {
  const doc = parseDocument(readFileSync(join(dir, name), 'utf8'), { lineCounter: new LineCounter(), prettyErrors: false, uniqueKeys: false, strict: true, version: '1.2' });
  count += doc.errors.length;
}
if (count < 0) console.log(count);
`;

if (want('lint-1000')) {
  const dir = mkdtempSync(join(tmpdir(), 'exch-cert-bench-lint-'));
  const plain = mkdtempSync(join(tmpdir(), 'exch-cert-bench-lint-plain-'));
  try {
    writeCorpus(dir, 1000);
    writeCorpus(plain, 1000, { powershell: false });
    const yamlOnly = join(dir, '..', `yaml-only-${process.pid}.mjs`);
    writeFileSync(yamlOnly, YAML_ONLY);
    const rounds = quick ? 3 : 7;
    const [yaml, lint] = interleave(rounds, [() => time(node, [yamlOnly, plain]), () => time(node, [bin, 'lint', plain], { expectStatus: 1 })]);
    report('lint 1,000 runbooks vs yaml alone', { yaml_ms: yaml, lint_ms: lint, ratio: lint / yaml, peak_rss_kib: peakRssKiB(node, [bin, 'lint', plain]) }, '(report; issue 11 measured 1.5x)');
    const contenders = [() => time(node, [bin, 'lint', dir, '--parser', 'builtin'], { expectStatus: 1 })];
    if (pwshForLint) contenders.push(() => time(node, [bin, 'lint', dir, '--parser', 'pwsh', '--shell', pwshForLint], { expectStatus: 1 }));
    const [builtin, viaPwsh] = interleave(rounds, contenders);
    report('lint 1,000 runbooks, 50 powershell', { builtin_ms: builtin, ...(viaPwsh !== undefined ? { pwsh_ms: viaPwsh } : {}), yaml_ms: yaml, builtin_ratio: builtin / yaml, ...(viaPwsh !== undefined ? { pwsh_ratio: viaPwsh / yaml } : {}) }, '<= 1500 ms');
    rmSync(yamlOnly, { force: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(plain, { recursive: true, force: true });
  }
}

if (want('lint-keys')) {
  // Quadratic before (issue 8: 10,000 unknown keys 5.4 s, 20,000 25 s): the ratio of the two shows the growth.
  const dir = mkdtempSync(join(tmpdir(), 'exch-cert-bench-keys-'));
  try {
    for (const count of [10_000, 20_000]) {
      const keys = Array.from({ length: count }, (_, i) => `unknown${i}: ${i}`).join('\n');
      writeFileSync(join(dir, `keys-${count}.yaml`), `version: 1\nname: keys\n${keys}\nsteps:\n  - id: health\n    action: test-service-health\n    with: { server: EXCH01 }\n`);
    }
    const [small, large] = interleave(quick ? 2 : 5, [10_000, 20_000].map((count) => () => time(node, [bin, 'lint', join(dir, `keys-${count}.yaml`)], { expectStatus: 1 })));
    report('lint 10,000 / 20,000 unknown keys', { keys_10k_ms: small, keys_20k_ms: large, growth_ratio: large / small }, '~2 (linear)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A corpus like a big estate's: variations of the shipped runbooks, one in
 * ten with a mistake to report, one in twenty with a powershell step (which
 * loads the PowerShell parser).
 */
function writeCorpus(dir, count, { powershell = true } = {}) {
  const sources = ['renew-certificate', 'new-self-signed-certificate', 'validate-exchange'].map((name) => readFileSync(join(root, 'runbooks', `${name}.yaml`), 'utf8'));
  for (let i = 0; i < count; i++) {
    let text = sources[i % sources.length].replace(/^name: (.*)$/m, `name: $1-${i}`);
    if (i % 10 === 3) text = text.replace('action: test-service-health', 'action: test-service-helth');
    if (powershell && i % 20 === 7) {
      text += `  - id: custom-${i}\n    action: powershell\n    with:\n      script: |\n        $q = @(Get-Queue)\n        if ($q.Count -gt ${i}) { Write-Warning 'queues are long' }\n`;
    }
    writeFileSync(join(dir, `runbook-${String(i).padStart(4, '0')}.yaml`), text);
  }
}

// ---- live execution (issue 4): needs PowerShell 7 ----

const localPwsh = join(root, '.tools', process.platform === 'win32' ? 'pwsh.exe' : 'pwsh');
const pwsh = existsSync(localPwsh) ? localPwsh : spawnSync('pwsh', ['-NoProfile', '-Command', 'exit 0']).status === 0 ? 'pwsh' : undefined;
const wantLive = ['bridge', 'renewal', 'pwsh-parser'].some(want);
if (wantLive && !pwsh) console.log('live execution benches skipped: no PowerShell 7 (.tools/pwsh or pwsh on PATH)');

const secrets = { EXCH_CERT_PFX_PASSWORD: 'bench-pfx-password', EXCH_CERT_BACKUP_PASSWORD: 'bench-backup-password' };
const benchEnv = { ...process.env, ...secrets, NO_COLOR: '1' };

if (pwsh && want('pwsh-parser')) await benchPwshParser();
if (pwsh && want('bridge')) await benchBridge();

/**
 * Lint's pwsh parser on its own: the fixed cost (start until it answers) and
 * the cost of one script (50 step-sized scripts, each one round trip).
 */
async function benchPwshParser() {
  const out = mkdtempSync(join(tmpdir(), 'exch-cert-bench-parser-'));
  try {
    const bundle = join(out, 'parser.mjs');
    await build({ entryPoints: [join(root, 'src', 'powershell', 'pwsh-parser.ts')], outfile: bundle, bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' });
    const { startPwshParser } = await import(pathToFileURL(bundle).href);
    const starts = [];
    const perScript = [];
    for (let round = 0; round < (quick ? 2 : 5); round++) {
      const started = performance.now();
      const parser = await startPwshParser(pwsh);
      starts.push(performance.now() - started);
      try {
        for (let i = 0; i < 50; i++) {
          const script = `$q = @(Get-Queue -Server 'EXCH0${i}')\nif ($q.Count -gt ${i}) { Write-Warning 'queues are long' }\nforeach ($x in $q) { $x.Identity }`;
          const t = performance.now();
          await parser.parse(script);
          if (i >= 5) perScript.push(performance.now() - t);
        }
      } finally {
        await parser.close();
      }
    }
    report('lint pwsh parser', { start_ms: median(starts), per_script_ms: median(perScript) }, '(report)');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
if (pwsh && want('renewal')) benchRenewal();

/**
 * The bridge's own cost: the round trip of an empty step (Invoke-ExchCertStep
 * with an empty body, after the real prologue) through node-powershell.
 */
async function benchBridge() {
  const out = mkdtempSync(join(tmpdir(), 'exch-cert-bench-bridge-'));
  try {
    const bundle = join(out, 'bridge.mjs');
    await build({
      stdin: {
        contents: "export { createNodePowerShellFactory } from './src/powershell/node-powershell.ts'; export { renderPrologue } from './src/plan/prologue.ts';",
        resolveDir: root,
        loader: 'ts',
      },
      outfile: bundle,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      banner: { js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);" },
      logLevel: 'warning',
    });
    const { createNodePowerShellFactory, renderPrologue } = await import(pathToFileURL(bundle).href);
    const started = performance.now();
    const session = await createNodePowerShellFactory({ shell: pwsh }).start({ env: {} });
    const startMs = performance.now() - started;
    try {
      const prologue = await session.invoke(renderPrologue({ kind: 'module', server: 'EXCH01', modulePath: join(root, 'src', 'simulator', 'ExchCertSimulator.psm1') }, []));
      if (prologue.kind !== 'completed' || !prologue.envelope.ok) throw new Error(`prologue failed: ${JSON.stringify(prologue)}`);
      const step = "Invoke-ExchCertStep -Id 'noop' -ReadOnly -Body {\n}";
      const samples = { block: [], step: [] };
      for (let i = 0; i < 10; i++) await session.invoke(step);
      for (let i = 0; i < (quick ? 50 : 200); i++) {
        for (const [kind, text] of [['block', ''], ['step', step]]) {
          const t = performance.now();
          const outcome = await session.invoke(text);
          samples[kind].push(performance.now() - t);
          if (outcome.kind !== 'completed' || !outcome.envelope.ok) throw new Error(`${kind} failed: ${JSON.stringify(outcome)}`);
        }
      }
      report('bridge: empty step round trip', { median_ms: median(samples.step), empty_block_median_ms: median(samples.block), shell_start_ms: startMs }, '<= 15 ms median');
    } finally {
      await session.dispose();
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * The seed's renewal against the simulator, three ways: exch-cert (one shell,
 * step by step), the exported dry-run script run once with pwsh -File, and one
 * pwsh process per step (what naive tools do). Every run gets a fresh copy of
 * the same simulated server.
 */
function benchRenewal() {
  const work = mkdtempSync(join(tmpdir(), 'exch-cert-bench-renewal-'));
  try {
    const fixture = join(work, 'fixture');
    time(node, [bin, 'simulator', 'init', '--dir', fixture, '--shell', pwsh], { env: benchEnv });
    let run = 0;
    const fresh = () => {
      const dir = join(work, `run-${run++}`);
      cpSync(fixture, dir, { recursive: true });
      return { dir, state: join(dir, 'state.json'), pfx: join(dir, 'renewed-mail.contoso.com.pfx') };
    };
    const renewArgs = (ws) => ['renew', '--server', 'EXCH01', '--pfx', ws.pfx, '--fqdn', 'mail.contoso.com', '--simulate', ws.state, '--shell', pwsh];
    const exported = (ws) => {
      const script = join(ws.dir, 'plan.ps1');
      time(node, [bin, ...renewArgs(ws), '--dry-run', '--output', script], { env: benchEnv });
      return script;
    };
    const shellEnv = (ws) => ({ ...benchEnv, EXCH_CERT_SIMULATOR_STATE: ws.state });

    const viaExchCert = () => {
      const ws = fresh();
      return time(node, [bin, ...renewArgs(ws), '--yes', '--journal-dir', join(ws.dir, 'runs')], { env: benchEnv, cwd: ws.dir });
    };
    const viaPwshFile = () => {
      const ws = fresh();
      const script = exported(ws);
      return time(pwsh, ['-NoProfile', '-NonInteractive', '-File', script], { env: shellEnv(ws), cwd: ws.dir });
    };
    const viaProcessPerStep = () => {
      const ws = fresh();
      const plan = JSON.parse(spawnSync(node, [bin, ...renewArgs(ws), '--dry-run', '--json'], { env: benchEnv, encoding: 'utf8' }).stdout);
      const outputs = join(ws.dir, 'outputs.json');
      writeFileSync(outputs, '{}');
      // Each step in a new pwsh: connect, reload earlier outputs from a file, run, save outputs.
      const reload = `$saved = Get-Content -Raw -LiteralPath '${outputs}' | ConvertFrom-Json\nforeach ($step in $saved.PSObject.Properties) { $values = @{}; foreach ($value in $step.Value.PSObject.Properties) { $values[$value.Name] = $value.Value }; $global:ExchCert.Outputs[$step.Name] = $values }`;
      const save = `$global:ExchCert.Outputs | ConvertTo-Json -Depth 6 | Set-Content -LiteralPath '${outputs}'`;
      let total = 0;
      plan.steps.forEach((step, index) => {
        const file = join(ws.dir, `step-${index}.ps1`);
        writeFileSync(file, [plan.prologue, reload, step.script, save, plan.epilogue].join('\n'));
        total += time(pwsh, ['-NoProfile', '-NonInteractive', '-File', file], { env: shellEnv(ws), cwd: ws.dir });
      });
      return total;
    };
    const [exchCert, pwshFile, perStep] = interleave(quick ? 2 : 5, [viaExchCert, viaPwshFile, viaProcessPerStep]);
    report('renewal vs pwsh -File', { exch_cert_ms: exchCert, pwsh_file_ms: pwshFile, ratio: exchCert / pwshFile }, '<= 1.2');
    report('renewal vs a pwsh per step', { exch_cert_ms: exchCert, per_step_ms: perStep, ratio: exchCert / perStep });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (pwsh && want('fleet')) benchFleet();

/**
 * Ten simulated Mailbox servers behind one namespace, renewed in one fleet run with --max-parallel 1
 * and with --max-parallel 4 (the speed-up as a ratio), and the fleet's cost per server against a
 * single-server renewal in the same organisation (the fleet adds the inventory and a preflight per
 * server). Every run gets a fresh copy of the same organisation.
 */
function benchFleet() {
  const work = mkdtempSync(join(tmpdir(), 'exch-cert-bench-fleet-'));
  try {
    const servers = Array.from({ length: 10 }, (_, index) => `EXCH${String(index + 1).padStart(2, '0')}`);
    const fixture = join(work, 'fixture');
    time(node, [bin, 'simulator', 'init', '--dir', fixture, '--servers', servers.join(','), '--layout', 'seed', '--shell', pwsh], { env: benchEnv });
    let run = 0;
    const renew = (names, ...extra) => () => {
      const dir = join(work, `run-${run++}`);
      cpSync(fixture, dir, { recursive: true });
      const ms = time(node, [bin, 'renew', '--server', names.join(','), '--pfx', join(dir, 'renewed-mail.contoso.com.pfx'), '--fqdn', 'mail.contoso.com', '--simulate', join(dir, 'state.json'), '--shell', pwsh, '--yes', ...extra], { env: benchEnv, cwd: dir });
      rmSync(dir, { recursive: true, force: true });
      return ms;
    };
    const [single, serial, parallel] = interleave(quick ? 1 : 3, [renew([servers[0]]), renew(servers, '--max-parallel', '1'), renew(servers, '--max-parallel', '4')], 0);
    report('fleet: 10 servers, --max-parallel 4 vs 1', { parallel_1_ms: serial, parallel_4_ms: parallel, speedup_ratio: serial / parallel }, '(report)');
    report('fleet: per server vs one renewal', { single_ms: single, per_server_ms: serial / servers.length, overhead_ratio: serial / servers.length / single }, '(report)');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

// ---- TLS verification (issue 10): needs openssl, dovecot and aiosmtpd ----

if (want('verify-tls')) await benchVerifyTls();

/**
 * `verify-tls` of four loopback endpoints (implicit TLS on openssl s_server,
 * IMAP STARTTLS and POP3 STLS on dovecot, SMTP STARTTLS on aiosmtpd) against
 * four `openssl s_client` runs of the same endpoints, one after another as a
 * script would run them, each verifying chain and name as verify-tls does.
 * Also the core alone (verifyEndpoints in this process), which is what the
 * renewal's verification step calls.
 */
async function benchVerifyTls() {
  const out = mkdtempSync(join(tmpdir(), 'exch-cert-bench-tls-'));
  const servers = [];
  try {
    const bundle = join(out, 'tls.mjs');
    await build({
      stdin: {
        contents: [
          "export { createTestPki, issueLeaf } from './test/helpers/tls-certificates.ts';",
          "export { haveTlsServers, startDovecot, startOpenSslServer, startSmtpServer } from './test/helpers/tls-servers.ts';",
          "export { verifyEndpoints } from './src/tls/verify.ts';",
          "export { connectTls } from './src/tls/connect.ts';",
        ].join('\n'),
        resolveDir: root,
        loader: 'ts',
      },
      outfile: bundle,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      banner: { js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);" },
      logLevel: 'warning',
    });
    const tls = await import(pathToFileURL(bundle).href);
    if (!tls.haveTlsServers) {
      console.log('verify-tls bench skipped: openssl, dovecot or aiosmtpd missing (see .ci/run)');
      return;
    }
    const pki = tls.createTestPki(join(out, 'pki'));
    const leaf = tls.issueLeaf(pki, { names: ['mail.contoso.test'] });
    const [https, dovecot, smtp] = await Promise.all([
      tls.startOpenSslServer({ cert: leaf.cert, key: leaf.key, chain: pki.intermediateCert }),
      tls.startDovecot(join(out, 'dovecot'), { certChain: leaf.chain, key: leaf.key }),
      tls.startSmtpServer(join(out, 'smtp'), { certChain: leaf.chain, key: leaf.key }),
    ]);
    servers.push(https, dovecot, smtp);
    const endpoints = [
      { port: https.port, protocol: 'tls' },
      { port: dovecot.ports.imap, protocol: 'imap' },
      { port: dovecot.ports.pop3, protocol: 'pop3' },
      { port: smtp.port, protocol: 'smtp' },
    ];
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: pki.rootCert, NO_COLOR: '1' };
    const contenders = (targets) => [
      () => time(node, [bin, 'verify-tls', '127.0.0.1', '--servername', 'mail.contoso.test', '--port', targets.map((e) => `${e.port}/${e.protocol}`).join(','), '--expect', leaf.thumbprint], { env }),
      () =>
        targets.reduce((total, e) => {
          const starttls = e.protocol === 'tls' ? [] : ['-starttls', e.protocol];
          const clientArgs = ['s_client', '-connect', `127.0.0.1:${e.port}`, '-servername', 'mail.contoso.test', '-verify_hostname', 'mail.contoso.test', '-CAfile', pki.rootCert, '-verify_return_error', ...starttls];
          return total + time('openssl', clientArgs, { env });
        }, 0),
      () => time(node, ['-e', '0']),
    ];
    const [exchCert, openssl, nodeBaseline] = interleave(quick ? 5 : 21, contenders(endpoints), 2);
    const core = [];
    const targets = endpoints.map((e) => ({ host: '127.0.0.1', servername: 'mail.contoso.test', ...e }));
    for (let i = 0; i < (quick ? 10 : 50); i++) {
      const start = performance.now();
      const results = await tls.verifyEndpoints(targets, { thumbprint: leaf.thumbprint }, { connect: tls.connectTls, clock: { now: () => new Date() } });
      core.push(performance.now() - start);
      if (results.some((r) => r.verdict === 'unreachable')) throw new Error(`verifyEndpoints: ${JSON.stringify(results.map((r) => r.error))}`);
    }
    report('verify-tls 4 endpoints vs 4 s_client', { exch_cert_ms: exchCert, openssl_ms: openssl, ratio: exchCert / openssl, node_e0_ms: nodeBaseline, core_ms: median(core) }, '<= 1.0');

    // The same through a relay that delays every chunk by 10 ms each way: a 20 ms round trip, as to a server across a WAN.
    const relay = await startDelayRelay(endpoints.map((e) => e.port), 10);
    servers.push(relay);
    const relayed = endpoints.map((e, i) => ({ ...e, port: relay.ports[i] }));
    const [exchCertWan, opensslWan] = interleave(quick ? 3 : 11, contenders(relayed).slice(0, 2), 1);
    report('  the same at 20 ms round trip', { exch_cert_ms: exchCertWan, openssl_ms: opensslWan, ratio: exchCertWan / opensslWan });
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * A TCP relay on 127.0.0.1 (a child process) in front of each port, holding
 * every chunk back `delayMs` in each direction. Returns its ports and a stop.
 */
function startDelayRelay(targets, delayMs) {
  const script = `
    import { createServer, connect } from 'node:net';
    const [delay, ...targets] = process.argv.slice(1).map(Number);
    const ports = await Promise.all(targets.map((target) => new Promise((resolve) => {
      const server = createServer((client) => {
        const upstream = connect({ host: '127.0.0.1', port: target });
        const pipe = (from, to) => {
          from.on('data', (chunk) => setTimeout(() => to.write(chunk), delay));
          from.on('end', () => setTimeout(() => to.end(), delay));
          from.on('error', () => to.destroy());
        };
        pipe(client, upstream);
        pipe(upstream, client);
      });
      server.listen(0, '127.0.0.1', () => resolve(server.address().port));
    })));
    console.log(ports.join(','));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, String(delayMs), ...targets.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let output = '';
    child.once('exit', (code) => reject(new Error(`delay relay exited ${code}: ${output}`)));
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (!output.includes('\n')) return;
      resolve({
        ports: output.trim().split(',').map(Number),
        stop: () =>
          new Promise((done) => {
            child.once('exit', done);
            process.kill(child.pid, 'SIGTERM');
          }),
      });
    });
  });
}

if (args.includes('--json')) console.log(JSON.stringify(results, null, 2));
