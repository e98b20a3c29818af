import { readFileSync, statSync, type Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { Diagnostic } from '../diagnostics.js';

/** Runbooks are small; anything larger is a mistake or an attack. */
export const MAX_RUNBOOK_BYTES = 1024 * 1024;

/** A runbook's text, ready to parse: UTF-8 decoded, byte-order mark removed. */
export interface RunbookSource {
  readonly file: string;
  readonly text: string;
}

export type SourceResult =
  | { readonly ok: true; readonly source: RunbookSource }
  | { readonly ok: false; readonly diagnostic: Diagnostic };

function fileProblem(file: string, message: string, hint: string, line = 1, column = 1): SourceResult {
  return { ok: false, diagnostic: { file, line, column, severity: 'error', message, hint, ruleId: 'file' } };
}

/**
 * Decodes a runbook's bytes. Pure: the caller reads the file.
 * Accepts a UTF-8 BOM and CRLF line ends; rejects empty, oversized and non-UTF-8 input.
 */
export function decodeRunbookSource(file: string, bytes: Uint8Array): SourceResult {
  if (bytes.length > MAX_RUNBOOK_BYTES) {
    return fileProblem(file, `file is ${bytes.length} bytes; runbooks are limited to ${MAX_RUNBOOK_BYTES} bytes (1 MiB)`, 'split the runbook or remove the generated content');
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    const offset = firstInvalidUtf8Offset(bytes);
    const { line, column } = lineAndColumnOfByte(bytes, offset);
    return fileProblem(file, `file is not valid UTF-8 (byte 0x${(bytes[offset] ?? 0).toString(16).padStart(2, '0')} at offset ${offset})`, 'save the file as UTF-8', line, column);
  }
  if (text.trim() === '') {
    return fileProblem(file, 'file is empty', 'a runbook needs at least version, name and steps; see runbooks/renew-certificate.yaml');
  }
  return { ok: true, source: { file, text } };
}

/** Reads and decodes a runbook file, turning every file-system problem into a diagnostic. */
export async function readRunbookSource(file: string): Promise<SourceResult> {
  let info: Stats;
  try {
    info = await stat(file);
  } catch (error) {
    return fileProblem(file, describeFsError(error), 'check the path');
  }
  const problem = checkFileInfo(file, info);
  if (problem) return problem;
  try {
    return decodeRunbookSource(file, await readFile(file));
  } catch (error) {
    return fileProblem(file, describeFsError(error), 'check the path and its permissions');
  }
}

/**
 * The same, synchronously: for lint, which reads many small files in a row
 * (in worker threads), where promise round trips cost more than the reads.
 */
export function readRunbookSourceSync(file: string): SourceResult {
  let info: Stats;
  try {
    info = statSync(file);
  } catch (error) {
    return fileProblem(file, describeFsError(error), 'check the path');
  }
  const problem = checkFileInfo(file, info);
  if (problem) return problem;
  try {
    return decodeRunbookSource(file, readFileSync(file));
  } catch (error) {
    return fileProblem(file, describeFsError(error), 'check the path and its permissions');
  }
}

/** Rejects directories, devices and oversized files before reading them. */
function checkFileInfo(file: string, info: Stats): SourceResult | undefined {
  if (info.isDirectory()) return fileProblem(file, 'is a directory, not a runbook file', 'name a .yaml file, or use `exch-cert lint DIR` to check a directory');
  if (!info.isFile()) return fileProblem(file, 'is not a regular file', 'name a .yaml file');
  if (info.size > MAX_RUNBOOK_BYTES) {
    return fileProblem(file, `file is ${info.size} bytes; runbooks are limited to ${MAX_RUNBOOK_BYTES} bytes (1 MiB)`, 'split the runbook or remove the generated content');
  }
  return undefined;
}

/** One line for a file-system error, without a stack. */
export function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'file not found';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory, not a file';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

/** Offset of the first byte that starts an invalid UTF-8 sequence (the decoder already said there is one). */
function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i] ?? 0;
    const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    if (length === 0) return i;
    // Decoding just this sequence catches bad continuation bytes, overlong forms and surrogates.
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(i, i + length));
    } catch {
      return i;
    }
    i += length;
  }
  return Math.max(0, bytes.length - 1);
}

function lineAndColumnOfByte(bytes: Uint8Array, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
