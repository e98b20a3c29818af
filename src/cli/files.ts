import { closeSync, constants, fsyncSync, lstatSync, mkdirSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { InputError } from '../errors.js';

/**
 * Makes sure `path` is a folder this process can write, creating what is missing one level at a
 * time (Node's recursive mkdir retries ENOENT forever under /proc). Anything else is one line
 * naming the flag: an existing file, a device, a folder that cannot be written.
 */
export function ensureWritableDirectory(path: string, flag: string): void {
  const shown = `${flag} ${JSON.stringify(path)}`;
  if (path === '') throw new InputError(`${flag} is empty`, `give a folder, such as ${flag} .exch-cert/runs`);
  const missing: string[] = [];
  let current = path;
  for (;;) {
    const kind = kindOf(current);
    if (kind === 'a folder') break;
    if (kind === 'under a file') throw new InputError(`${shown}: part of ${current} is a file, not a folder`);
    if (kind !== 'missing') throw new InputError(`${shown}: ${current} is ${kind}, not a folder`);
    missing.unshift(current);
    const parent = dirname(current);
    if (parent === current || current === parse(current).root) throw new InputError(`${shown}: no part of it exists`);
    current = parent;
  }
  for (const folder of missing) {
    try {
      mkdirSync(folder, { mode: 0o700 });
    } catch (error) {
      throw new InputError(`${shown}: cannot create ${folder}: ${reason(error)}`);
    }
  }
  // Writing is the only test that tells a read-only mount or /proc from a folder one can use.
  const probe = join(path, `.exch-cert-write-test-${process.pid}`);
  try {
    closeSync(openSync(probe, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600));
    rmSync(probe, { force: true });
  } catch (error) {
    throw new InputError(`${shown}: cannot write there: ${reason(error)}`);
  }
}

/**
 * Writes a new regular file, never through a symbolic link, and over an existing file only with
 * `force` (and only a regular one). Every failure (a folder, a missing or non-folder parent, a full
 * disk, /dev/full) is one line naming the flag.
 */
export function writeNewFile(path: string, bytes: Uint8Array, options: { readonly force: boolean; readonly flag: string; readonly mode?: number }): void {
  const shown = `${options.flag} ${JSON.stringify(path)}`;
  if (path === '') throw new InputError(`${options.flag} is empty`, 'give a file name, such as plan.ps1');
  const kind = kindOf(path);
  if (kind === 'a symbolic link') throw new InputError(`${shown} is a symbolic link; exch-cert does not write through one`, 'give the real path');
  if (kind === 'under a file') throw new InputError(`${shown}: part of its folder is a file, not a folder`);
  if (kind !== 'missing' && kind !== 'a file') throw new InputError(`${shown} is ${kind}, not a file`);
  if (kind === 'a file' && !options.force) throw new InputError(`${shown} exists`, 'choose another name, or pass --force to replace it');
  const parent = kindOf(dirname(path));
  if (parent !== 'a folder') throw new InputError(`${shown}: its folder ${dirname(path)} ${parent === 'missing' ? 'does not exist' : parent === 'under a file' ? 'is under a file' : `is ${parent}`}`);
  let fd: number;
  try {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | (options.force ? constants.O_TRUNC : constants.O_EXCL);
    fd = openSync(path, flags, options.mode ?? 0o644);
  } catch (error) {
    throw new InputError(`${shown}: cannot create it: ${reason(error)}`);
  }
  try {
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(path, { force: true });
    throw new InputError(`${shown}: cannot write it: ${reason(error)}`);
  }
  closeSync(fd);
}

type Kind = 'missing' | 'under a file' | 'a folder' | 'a file' | 'a symbolic link' | 'a device' | 'a FIFO' | 'a socket' | 'not a file';

function kindOf(path: string): Kind {
  try {
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) return statSafe(path) === 'a folder' ? 'a folder' : 'a symbolic link';
    if (stat.isDirectory()) return 'a folder';
    if (stat.isFile()) return 'a file';
    if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
    if (stat.isFIFO()) return 'a FIFO';
    if (stat.isSocket()) return 'a socket';
    return 'not a file';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'missing';
    if (code === 'ENOTDIR') return 'under a file';
    return 'not a file';
  }
}

/** A symbolic link to a folder counts as the folder (a journal folder may well be one). */
function statSafe(path: string): 'a folder' | 'other' {
  try {
    return statSync(path).isDirectory() ? 'a folder' : 'other';
  } catch {
    return 'other';
  }
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOSPC: 'no space left on the device',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EROFS: 'the file system is read-only',
    ENOTDIR: 'part of the path is not a folder',
    ENOENT: 'no such file or folder',
    ELOOP: 'it is a symbolic link',
  };
  const text = code !== undefined ? words[code] : undefined;
  return text !== undefined ? `${text} (${code ?? ''})` : error instanceof Error ? error.message : String(error);
}
