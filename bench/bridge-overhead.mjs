// What the PowerShell bridge itself costs: start-up (spawn + handshake) and
// the round trip of an empty block (wrap, send, run, envelope, parse) through
// src/powershell/node-powershell.ts on a real pwsh.
//
//   node bench/bridge-overhead.mjs [PWSH_PATH] [RUNS]
//
// The adapter is TypeScript, so it is bundled to a temporary file first.
import { build } from 'esbuild';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '..');
const local = join(root, '.tools', process.platform === 'win32' ? 'pwsh.exe' : 'pwsh');
const shell = process.argv[2] ?? (existsSync(local) ? local : 'pwsh');
const runs = Number(process.argv[3] ?? 100);

const outDir = mkdtempSync(join(tmpdir(), 'exch-cert-bench-'));
const bundle = join(outDir, 'bridge.mjs');
await build({
  entryPoints: [join(root, 'src', 'powershell', 'node-powershell.ts')],
  outfile: bundle,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // node-powershell is CommonJS and require()s Node built-ins; give the ESM bundle a require().
  banner: { js: "import { createRequire as __benchCreateRequire } from 'node:module'; const require = __benchCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
/** @typedef {{ info: { edition: string, version: string, executable: string }, invoke(script: string): Promise<{ kind: string }>, dispose(): Promise<void> }} Session */
/** @typedef {{ createNodePowerShellFactory: (options: { shell: string }) => { start: (options: { env: Record<string, string> }) => Promise<Session> } }} Bridge */
/** @type {unknown} */
const bridge = await import(pathToFileURL(bundle).href);
const { createNodePowerShellFactory } = /** @type {Bridge} */ (bridge);

/** @type {(sorted: number[], p: number) => number} */
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
/** @type {(value: number | undefined) => string} */
const ms = (value) => `${(value ?? NaN).toFixed(2)} ms`;

const startedAt = performance.now();
const session = await createNodePowerShellFactory({ shell }).start({ env: {} });
const startMs = performance.now() - startedAt;
try {
  for (let i = 0; i < 5; i++) await session.invoke(''); // warm-up: JIT on both sides
  /** @type {number[]} */
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const outcome = await session.invoke('');
    samples.push(performance.now() - t);
    if (outcome.kind !== 'completed') throw new Error(`empty block did not complete: ${JSON.stringify(outcome)}`);
  }
  samples.sort((a, b) => a - b);
  console.log(`PowerShell ${session.info.edition} ${session.info.version} (${session.info.executable})`);
  console.log(`start-up (spawn + handshake): ${ms(startMs)}`);
  console.log(`empty block round trip, ${runs} runs: median ${ms(percentile(samples, 50))}, p90 ${ms(percentile(samples, 90))}, min ${ms(samples[0])}, max ${ms(samples.at(-1))}`);
} finally {
  await session.dispose();
  rmSync(outDir, { recursive: true, force: true });
}
