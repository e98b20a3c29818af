/**
 * The simulator held to Microsoft's cmdlet reference
 * (test/fixtures/exchange-cmdlets.json, from MicrosoftDocs/office-docs-powershell):
 * every simulated Exchange cmdlet declares exactly Exchange Server 2019's
 * parameters in its parameter sets (names, mandatory, positional, a
 * compatible type), so PowerShell itself refuses what Exchange refuses.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pwshPath } from '../helpers/pwsh.js';
import { Folders, MANIFEST, PwshHost, SIMULATOR_DIR, psQuote, pwshProcess } from './helpers.js';

/** The Exchange version the simulator is (Version 15.2: Exchange Server 2019). */
const VERSION = 'Exchange Server 2019';

interface ReferenceParameter {
  name: string;
  type: string;
  required: boolean;
  positional: boolean;
}
interface ReferenceCmdlet {
  parameterSets: { name: string; parameters: ReferenceParameter[] }[];
  parameters: Record<string, { applicable: string; type: string }>;
}
const reference = (JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'exchange-cmdlets.json'), 'utf8')) as { cmdlets: Record<string, ReferenceCmdlet> }).cmdlets;

interface DeclaredParameter {
  name: string;
  mandatory: boolean;
  position: number;
  type: string;
}
interface Declared {
  name: string;
  aliases: Record<string, string[]>;
  sets: { name: string; parameters: DeclaredParameter[] }[];
}

/** The cmdlets the renewals (single server, fleet, Edge) call, each of which the simulator must provide. */
const REQUIRED = [
  'Get-ExchangeCertificate', 'Import-ExchangeCertificate', 'Enable-ExchangeCertificate', 'Export-ExchangeCertificate', 'Remove-ExchangeCertificate', 'New-ExchangeCertificate',
  'Get-TransportService', 'Set-TransportService', 'Get-PopSettings', 'Set-PopSettings', 'Get-ImapSettings', 'Set-ImapSettings',
  'Get-SendConnector', 'Set-SendConnector', 'Get-ReceiveConnector', 'Set-ReceiveConnector', 'Get-Queue', 'Redirect-Message',
  'Get-ExchangeServer', 'Get-AuthConfig', 'Test-ServiceHealth', 'Get-ServerComponentState', 'Set-ServerComponentState',
  'New-EdgeSubscription', 'Remove-EdgeSubscription', 'Get-EdgeSubscription', 'Start-EdgeSynchronization', 'Test-EdgeSynchronization',
];
/** Stand-ins for Windows commands (compiled cmdlets and native tools), not Exchange's. */
const HOST = ['Get-Service', 'Start-Service', 'Stop-Service', 'Restart-Service', 'Get-WebBinding', 'New-WebBinding', 'Get-WebConfigurationProperty', 'Set-WebConfigurationProperty', 'netsh', 'iisreset'];

/** What Exchange 2019 has: its parameters, and the sets whose mandatory parameters it has. */
function expectedSets(cmdlet: ReferenceCmdlet): Map<string, Map<string, ReferenceParameter>> {
  const applies = (name: string): boolean => name === 'WhatIf' || name === 'Confirm' || (cmdlet.parameters[name]?.applicable.includes(VERSION) ?? false);
  const sets = new Map<string, Map<string, ReferenceParameter>>();
  for (const set of cmdlet.parameterSets) {
    if (set.parameters.some((p) => p.required && !applies(p.name))) continue;
    sets.set(set.name, new Map(set.parameters.filter((p) => applies(p.name)).map((p) => [p.name, p])));
  }
  return sets;
}

/** PowerShell types that stand for a reference type: exact for .NET types, [string] or [object] for Exchange's own. */
function compatibleTypes(type: string): string[] {
  const exact: Record<string, string> = {
    String: 'System.String',
    SwitchParameter: 'System.Management.Automation.SwitchParameter',
    Boolean: 'System.Boolean',
    Int32: 'System.Int32',
    'Byte[]': 'System.Byte[]',
    SecureString: 'System.Security.SecureString',
    PSCredential: 'System.Management.Automation.PSCredential',
    DateTime: 'System.DateTime',
    TimeSpan: 'System.TimeSpan',
  };
  if (exact[type]) return [exact[type]];
  if (type === 'MultiValuedProperty' || type.endsWith('[]')) return ['System.Object[]', 'System.String[]'];
  return ['System.String', 'System.Object'];
}

/** Every difference between a declared cmdlet and the reference, as readable lines. */
function differences(declared: Declared): string[] {
  const expected = expectedSets(reference[declared.name]!);
  const found = new Map(declared.sets.map((set) => [set.name, new Map(set.parameters.map((p) => [p.name, p]))]));
  // A single set has no name a caller can see; PowerShell calls an unnamed one __AllParameterSets.
  const only = found.get('__AllParameterSets');
  if (expected.size === 1 && found.size === 1 && only) {
    found.clear();
    found.set([...expected.keys()][0]!, only);
  }
  const problems: string[] = [];
  const name = declared.name;
  for (const set of expected.keys()) if (!found.has(set)) problems.push(`${name}: parameter set ${set} is missing`);
  for (const set of found.keys()) if (!expected.has(set)) problems.push(`${name}: parameter set ${set} is not Exchange's`);
  for (const [set, parameters] of expected) {
    const actual = found.get(set);
    if (!actual) continue;
    for (const [parameter, want] of parameters) {
      const have = actual.get(parameter);
      if (!have) {
        problems.push(`${name} [${set}]: -${parameter} is missing`);
        continue;
      }
      if (have.mandatory !== want.required) problems.push(`${name} [${set}]: -${parameter} mandatory ${have.mandatory}, reference ${want.required}`);
      if (have.position >= 0 !== want.positional) problems.push(`${name} [${set}]: -${parameter} positional ${have.position >= 0}, reference ${want.positional}`);
      if (!compatibleTypes(want.type).includes(have.type)) problems.push(`${name} [${set}]: -${parameter} is ${have.type}, reference ${want.type}`);
    }
    for (const parameter of actual.keys()) if (!parameters.has(parameter)) problems.push(`${name} [${set}]: -${parameter} is not an Exchange 2019 parameter`);
  }
  for (const [parameter, aliases] of Object.entries(declared.aliases)) problems.push(`${name}: -${parameter} has aliases (${aliases.join(', ')}), Exchange's has none`);
  return problems;
}

const folders = new Folders();
let host: PwshHost;
let declared: Declared[];
let exported: string[];
let manifest: string[];

beforeAll(async () => {
  const dir = folders.make();
  host = new PwshHost(dir);
  const seen = await host.ok<{ declared: Declared[]; exported: string[]; manifest: string[] }>(
    dir,
    `
$common = [System.Management.Automation.Cmdlet]::CommonParameters
$module = Get-Module ExchCertSimulator
$declared = foreach ($command in $module.ExportedFunctions.Values) {
    $aliases = @{}
    foreach ($parameter in $command.Parameters.Values) {
        # -WhatIf and -Confirm carry PowerShell's own aliases (wi, cf), on Exchange's cmdlets too.
        if ($parameter.Aliases.Count -gt 0 -and $common -notcontains $parameter.Name -and [System.Management.Automation.Cmdlet]::OptionalCommonParameters -notcontains $parameter.Name) { $aliases[$parameter.Name] = @($parameter.Aliases) }
    }
    @{
        name = $command.Name
        aliases = $aliases
        sets = @(foreach ($set in $command.ParameterSets) {
            @{ name = $set.Name; parameters = @(foreach ($p in $set.Parameters) { if ($common -notcontains $p.Name) { @{ name = $p.Name; mandatory = $p.IsMandatory; position = $p.Position; type = $p.ParameterType.FullName } } }) }
        })
    }
}
Out-Result @{
    declared = @($declared)
    exported = @($module.ExportedFunctions.Keys | Sort-Object)
    manifest = @((Import-PowerShellDataFile -Path ${psQuote(MANIFEST)}).FunctionsToExport | Sort-Object)
}`,
  );
  ({ declared, exported, manifest } = seen);
}, 60_000);

afterAll(() => {
  host.close();
  folders.removeAll();
});

describe.skipIf(!pwshPath)('the simulator against Microsoft\u2019s cmdlet reference', { timeout: 60_000 }, () => {
  it('declares exactly Exchange 2019\u2019s parameters and parameter sets for every simulated Exchange cmdlet', () => {
    const exchange = declared.filter((command) => reference[command.name]);
    expect(exchange.map((command) => command.name).sort()).toEqual([...REQUIRED].sort());
    expect(exchange.flatMap(differences)).toEqual([]);
  });

  it('finds a difference when a declaration departs from the reference', () => {
    const enable = declared.find((command) => command.name === 'Enable-ExchangeCertificate')!;
    const thumbprintSet = enable.sets.find((set) => set.name === 'Thumbprint')!;
    const changed: Declared = {
      ...enable,
      aliases: { Thumbprint: ['Identity'] },
      sets: [
        {
          name: 'Thumbprint',
          parameters: [
            ...thumbprintSet.parameters.filter((p) => p.name !== 'Services').map((p) => (p.name === 'Thumbprint' ? { ...p, mandatory: false, position: -2147483648 } : p.name === 'Force' ? { ...p, type: 'System.String' } : p)),
            { name: 'InternalTransportCertificateThumbprint', mandatory: false, position: -2147483648, type: 'System.String' },
          ],
        },
        ...enable.sets.filter((set) => set.name !== 'Thumbprint'),
      ],
    };
    expect(differences(changed)).toEqual([
      'Enable-ExchangeCertificate [Thumbprint]: -Thumbprint mandatory false, reference true',
      'Enable-ExchangeCertificate [Thumbprint]: -Thumbprint positional false, reference true',
      'Enable-ExchangeCertificate [Thumbprint]: -Services is missing',
      'Enable-ExchangeCertificate [Thumbprint]: -Force is System.String, reference SwitchParameter',
      'Enable-ExchangeCertificate [Thumbprint]: -InternalTransportCertificateThumbprint is not an Exchange 2019 parameter',
      "Enable-ExchangeCertificate: -Thumbprint has aliases (Identity), Exchange's has none",
    ]);
  });

  it('exports what its manifest lists: the Exchange cmdlets, the host stand-ins and its own commands', () => {
    expect(exported).toEqual(manifest);
    const own = exported.filter((name) => !reference[name] && !HOST.includes(name));
    expect(own.sort()).toEqual(['Add-ExchCertSimulatorFault', 'Get-ExchCertSimulatorState', 'New-ExchCertSimulatorPfx', 'New-ExchCertSimulatorState', 'Register-ExchCertSimulatorSession']);
    const listed = readFileSync(MANIFEST, 'utf8');
    for (const file of readdirSync(join(SIMULATOR_DIR, 'private'))) expect(listed).toContain(`'private/${file}'`);
  });

  it('lets PowerShell refuse what Exchange refuses: unknown parameters, mixed parameter sets, missing mandatory ones', async () => {
    const dir = folders.make();
    const seen = await pwshProcess<Record<string, string | null>>(
      dir,
      `
Out-Result @{
    internalTransport = Get-ErrorText { Set-TransportService -Identity EXCH01 -InternalTransportCertificateThumbprint 'ABCD' }
    fileName = Get-ErrorText { Import-ExchangeCertificate -FileName 'C:\\cert.pfx' }
    identityWithServer = Get-ErrorText { Enable-ExchangeCertificate -Identity 'EXCH01\\ABCD' -Server EXCH01 -Services IIS }
    identityAlias = Get-ErrorText { Get-ExchangeCertificate -Thumbprint 'AB' -Identity 'CD' }
    healthIdentity = Get-ErrorText { Test-ServiceHealth -Identity EXCH01 }
    missing = Get-ErrorText { Remove-ExchangeCertificate -Server EXCH01 }
    redirect = Get-ErrorText { Redirect-Message -Server EXCH01 }
}`,
    );
    expect(seen.result).toEqual({
      internalTransport: "A parameter cannot be found that matches parameter name 'InternalTransportCertificateThumbprint'.",
      fileName: "A parameter cannot be found that matches parameter name 'FileName'.",
      identityWithServer: 'Parameter set cannot be resolved using the specified named parameters. One or more parameters issued cannot be used together or an insufficient number of parameters were provided.',
      identityAlias: 'Parameter set cannot be resolved using the specified named parameters. One or more parameters issued cannot be used together or an insufficient number of parameters were provided.',
      healthIdentity: "A parameter cannot be found that matches parameter name 'Identity'.",
      missing: expect.stringMatching(/missing mandatory parameters: Thumbprint/),
      redirect: expect.stringMatching(/missing mandatory parameters: Target/),
    });
  });

  it('keeps Windows PowerShell 5.1 syntax in every file of the module', async () => {
    const dir = folders.make();
    const files = [join(SIMULATOR_DIR, 'ExchCertSimulator.psm1'), MANIFEST, ...readdirSync(join(SIMULATOR_DIR, 'private')).map((file) => join(SIMULATOR_DIR, 'private', file))];
    const seen = await host.ok<{ errors: string[]; tokens: string[]; text: string[] }>(
      dir,
      `
# PowerShell 7-only syntax: && || ?? ??= ?. ?[, the ternary ? : and the clean block.
$banned = @('AndAnd', 'OrOr', 'QuestionQuestion', 'QuestionQuestionEquals', 'QuestionDot', 'QuestionLBracket', 'QuestionMark', 'Clean')
$errors = @(); $found = @(); $text = @()
foreach ($file in @(${files.map(psQuote).join(', ')})) {
    $tokens = $null; $parseErrors = $null
    $null = [System.Management.Automation.Language.Parser]::ParseFile($file, [ref]$tokens, [ref]$parseErrors)
    $errors += @($parseErrors | ForEach-Object { $file + ': ' + $_.Message })
    $found += @($tokens | Where-Object { $banned -contains [string]$_.Kind } | ForEach-Object { $file + ': ' + [string]$_.Kind + ' at line ' + $_.Extent.StartLineNumber })
    $content = [System.IO.File]::ReadAllText($file)
    $text += @(@('-AsHashtable', '-AsByteStream', '-EnumsAsStrings', '-DateKind String', ' -Parallel') | Where-Object { $content.Contains($_) } | ForEach-Object { $file + ': ' + $_ })
}
Out-Result @{ errors = $errors; tokens = $found; text = $text }`,
    );
    expect(seen).toEqual({ errors: [], tokens: [], text: [] });
  });
});
