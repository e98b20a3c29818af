import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { compareDiagnostics } from '../diagnostics.js';
import { lintFiles, type LintResult, type LintTarget } from './lint-files.js';

/** Below this many files a worker's start-up costs more than it saves. */
const FILES_PER_WORKER = 150;

/**
 * Lints many files on all cores: YAML parsing dominates and is CPU-bound, so
 * large sets are split across worker threads. `workerScript` is the built
 * worker (dist/lint-worker.js); without it, or for small sets, this thread does
 * the work.
 */
export async function lintFilesInParallel(targets: readonly LintTarget[], workerScript: string): Promise<LintResult> {
  const workers = Math.min(availableParallelism(), 4, Math.floor(targets.length / FILES_PER_WORKER));
  if (workers < 2 || !existsSync(workerScript)) return lintFiles(targets);
  const chunks: LintTarget[][] = Array.from({ length: workers }, () => []);
  targets.forEach((target, index) => chunks[index % workers]?.push(target));
  const results = await Promise.all(chunks.map((chunk) => runWorker(workerScript, chunk)));
  return {
    diagnostics: results.flatMap((result) => result.diagnostics).sort(compareDiagnostics),
    sources: results.flatMap((result) => result.sources),
  };
}

function runWorker(script: string, targets: LintTarget[]): Promise<LintResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(script, { workerData: targets });
    worker.once('message', (result: LintResult) => resolve(result));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`lint worker exited with code ${code}`));
    });
  });
}
