import { hostBlock, lines } from '../powershell/script.js';

/**
 * The Edge Transport server's own Exchange Management Shell, loaded where the block runs: an Edge
 * is not domain-joined and has no /PowerShell endpoint, so its cmdlets come from the snap-in that
 * its EMS loads (the one place that snap-in is supported). Cmdlets already there are used (a
 * session that loaded them, or the simulator).
 */
export const LOAD_EDGE_SHELL = "if (-not (Get-Command -Name 'Get-ExchangeCertificate' -ErrorAction SilentlyContinue)) { Add-PSSnapin -Name 'Microsoft.Exchange.Management.PowerShell.SnapIn' }";

/**
 * Code for an Edge Transport server: a host block (remoting to the Edge, with the account it was
 * given) that first loads the Edge's Exchange Management Shell. Exchange cmdlets in it act on that
 * Edge, the only server its shell manages, so they take no -Server.
 */
export function edgeBlock(edgeExpression: string, parameters: ReadonlyArray<readonly [string, string]>, body: string): string {
  return hostBlock(edgeExpression, parameters, lines(LOAD_EDGE_SHELL, body));
}
