// Entry point of a lint worker thread: lints the files it is given and posts the result back.
import { parentPort, workerData } from 'node:worker_threads';
import { lintFiles, type LintTarget } from './lint-files.js';

const targets = workerData as LintTarget[];
parentPort?.postMessage(await lintFiles(targets));
