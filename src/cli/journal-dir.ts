import { join } from 'node:path';

/** The journal folder unless --journal-dir says otherwise (relative to the working directory). */
export const DEFAULT_JOURNAL_DIR = join('.exch-cert', 'runs');
