// Bundles the CLI into dist/ with esbuild: one small entry that answers
// --version without loading anything, and lazily loaded chunks for the rest.
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

// `--outdir DIR` builds elsewhere (the tests build a private copy, so parallel runs never see a half-built dist/).
const outIndex = process.argv.indexOf('--outdir');
const outdir = outIndex === -1 ? 'dist' : process.argv[outIndex + 1];

rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { bin: 'src/bin.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  chunkNames: 'chunks/[name]-[hash]',
  // Packages that load files next to themselves (wasm) or spawn processes stay outside the bundle.
  external: ['node-powershell', 'web-tree-sitter', 'tree-sitter-powershell'],
  define: { EXCH_CERT_VERSION: JSON.stringify(version) },
  // CommonJS dependencies (commander) call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __exchCertCreateRequire } from 'node:module'; const require = __exchCertCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
