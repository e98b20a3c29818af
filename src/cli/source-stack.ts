import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A stack frame's location: `file:///…/x.js:1:2345`, `/…/x.js:1:2345`, in parentheses or not. */
const FRAME = /((?:file:\/\/)?\/[^\s():]+\.js):(\d+):(\d+)/g;

/**
 * A stack trace of exch-cert's bundled code, as it reads in the sources: each frame in a file
 * that has a source map beside it (`x.js.map`, as the build writes them) points at src/…ts
 * instead of a minified dist/chunks file. Done only when a bug is reported, so that a normal run
 * never reads the maps (Node's --enable-source-maps would parse them all at start-up).
 */
export function sourceMappedStack(stack: string, root: string): string {
  const maps = new Map<string, SourceMap | undefined>();
  return stack.replace(FRAME, (whole, location: string, line: string, column: string) => {
    const file = location.startsWith('file://') ? fileURLToPath(location) : location;
    const map = mapOf(file, maps);
    // findEntry counts lines and columns from 0; stack traces from 1.
    const entry = map?.findEntry(Number(line) - 1, Number(column) - 1);
    if (!entry || !('originalSource' in entry) || !entry.originalSource) return whole;
    const source = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : resolve(dirname(file), entry.originalSource);
    const shown = relative(root, source);
    return `${shown.startsWith('..') ? source : shown}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}

function mapOf(file: string, maps: Map<string, SourceMap | undefined>): SourceMap | undefined {
  if (maps.has(file)) return maps.get(file);
  let map: SourceMap | undefined;
  try {
    const path = `${file}.map`;
    if (existsSync(path)) map = new SourceMap(JSON.parse(readFileSync(path, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
  } catch {
    // A map that cannot be read leaves the frame as it was.
    map = undefined;
  }
  maps.set(file, map);
  return map;
}
