import type { Log, ReportingDescriptor, Result } from 'sarif';
import { escapeJsonControlCharacters } from '../text/control-characters.js';
import type { Diagnostic } from '../diagnostics.js';
import { VERSION } from '../version.js';
import type { LintReport } from './format.js';

const SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';

/**
 * SARIF 2.1.0, for GitHub code scanning (upload it with
 * github/codeql-action/upload-sarif): one run, the rules that lint has,
 * one result per diagnostic with its region, the hint as a fix text, and
 * the parser that judged the scripts in the run's properties. File paths
 * are relative URIs against the folder lint ran in (%SRCROOT%).
 */
export function formatSarif(diagnostics: readonly Diagnostic[], report: LintReport, rules: ReadonlyMap<string, string>): string {
  const ids = [...rules.keys()];
  for (const d of diagnostics) if (!rules.has(d.ruleId) && !ids.includes(d.ruleId)) ids.push(d.ruleId);
  const descriptors: ReportingDescriptor[] = ids.map((id) => ({
    id,
    shortDescription: { text: rules.get(id) ?? id },
  }));
  const results: Result[] = diagnostics.map((d) => ({
    ruleId: d.ruleId,
    ruleIndex: ids.indexOf(d.ruleId),
    level: d.severity === 'error' ? 'error' : 'warning',
    message: { text: d.hint ? `${d.message}. Fix: ${d.hint}` : d.message },
    locations: [
      {
        physicalLocation: {
          artifactLocation: artifactLocation(d.file),
          region: {
            startLine: d.line,
            startColumn: d.column,
            ...(d.endLine !== undefined ? { endLine: d.endLine } : {}),
            ...(d.endColumn !== undefined && d.endLine !== undefined && (d.endLine > d.line || d.endColumn > d.column) ? { endColumn: d.endColumn } : {}),
          },
        },
      },
    ],
  }));
  const log: Log = {
    $schema: SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'exch-cert', semanticVersion: VERSION, rules: descriptors } },
        columnKind: 'utf16CodeUnits',
        results,
        properties: { files: report.files, errors: report.counts.errors, warnings: report.counts.warnings, scriptParser: report.parser ?? null },
      },
    ],
  };
  return escapeJsonControlCharacters(JSON.stringify(log, null, 2));
}

/** A relative path as a URI reference against %SRCROOT% (forward slashes, segments percent-encoded); an absolute one as a file: URI. */
function artifactLocation(file: string): { uri: string; uriBaseId?: string } {
  const path = file.replace(/\\/g, '/');
  const encode = (segments: readonly string[]): string => segments.map((segment) => encodeURIComponent(segment)).join('/');
  if (path.startsWith('/')) return { uri: `file://${encode(path.split('/'))}` };
  const drive = /^([A-Za-z]:)\//.exec(path);
  if (drive?.[1]) return { uri: `file:///${drive[1]}/${encode(path.slice(3).split('/'))}` };
  return { uri: encode(path.split('/')), uriBaseId: '%SRCROOT%' };
}
