import { psString } from '../powershell/quote.js';
import { lines } from '../powershell/script.js';
import { connectionState, renderConnect, type Connection } from './connection.js';
import { STEP_HELPERS } from './helpers.js';

/** A secret the prologue reads from the environment into a SecureString. */
export interface SecretSource {
  readonly param: string;
  readonly env: string;
}

/**
 * Refuses hosts older than Windows PowerShell 5.1 with a message that says so: `#Requires` would
 * only say the script "cannot be run", and a PowerShell 4.0 host parses this script but fails on it.
 */
const VERSION_CHECK =
  "if ($PSVersionTable.PSVersion.Major -lt 5) { throw ('exch-cert: this needs Windows PowerShell 5.1 or PowerShell 7; this is PowerShell ' + $PSVersionTable.PSVersion + '. Exchange 2016 on Windows Server 2012 R2 needs WMF 5.1.') }";

/** The prologue: settings, helpers, secrets and the connection. Sent once, before the first step. */
export function renderPrologue(connection: Connection, secrets: readonly SecretSource[], exchangeCommands: readonly string[]): string {
  return lines(
    '# ---- prologue: settings, helpers, secrets, connection ----',
    VERSION_CHECK,
    // Implicit-remoting proxies run in their own module's scope and see only the global preference:
    // a local 'Stop' would let every server-side error pass as a warning.
    "$global:ErrorActionPreference = 'Stop'",
    "$ErrorActionPreference = 'Stop'",
    "$global:ProgressPreference = 'SilentlyContinue'",
    `$global:ExchCert = @{ ${connectionState(connection, exchangeCommands)}; Session = $null; ExchangeModule = $null; HostSessions = @{}; HostCredentials = @{}; Credential = $null; Reconnect = $false; Outputs = @{}; Secrets = @{}; Current = $null }`,
    '',
    STEP_HELPERS,
    '',
    ...secrets.map(
      (secret) => `$global:ExchCert.Secrets[${psString(secret.param)}] = Read-ExchCertSecret -Name ${psString(secret.param)} -Variable ${psString(secret.env)}`,
    ),
    ...(secrets.length > 0 ? [''] : []),
    renderConnect(connection),
  );
}

/** The epilogue: closes the remote sessions. Sent once, after the last step (also after a failure). */
export function renderEpilogue(): string {
  return lines(
    '# ---- epilogue: disconnect ----',
    'foreach ($exchCertSession in @(@($global:ExchCert.HostSessions.Values) + @($global:ExchCert.Session))) {',
    '    if ($exchCertSession) { Remove-PSSession -Session $exchCertSession -ErrorAction SilentlyContinue }',
    '}',
    '$global:ExchCert.HostSessions = @{}',
    '$global:ExchCert.Session = $null',
  );
}
