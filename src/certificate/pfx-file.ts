import { readFile, stat } from 'node:fs/promises';
import { PfxReadError } from './read-pfx.js';

/** PFX files are a few kilobytes; a bigger file is something else. */
export const MAX_PFX_BYTES = 1024 * 1024;

/**
 * Reads a PFX file's bytes.
 * @throws PfxReadError (code `file`) when it is missing, a directory, unreadable or too large
 */
export async function readPfxFile(path: string, display: string = path): Promise<Buffer> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw new PfxReadError('file', error.code === 'ENOENT' ? `file not found: ${display}` : `cannot read ${display}: ${error.code ?? error.message}`);
  });
  if (info.isDirectory()) throw new PfxReadError('file', `${display} is a directory, not a PFX file`);
  if (info.size > MAX_PFX_BYTES) throw new PfxReadError('not-pkcs12', `${display} has ${info.size} bytes; PFX files are limited to ${MAX_PFX_BYTES} bytes`);
  return readFile(path).catch((error: NodeJS.ErrnoException) => {
    throw new PfxReadError('file', `cannot read ${display}: ${error.code ?? error.message}`);
  });
}
