import { describe, expect, it } from 'vitest';
import { runCli, STACK_LINE } from '../helpers/cli.js';

const FLEET = ['renew', '--server', 'EXCH01,EXCH02,EXCH03', '--pfx', 'C:\\certs\\new.pfx', '--fqdn', 'mail.contoso.com'];
const EDGE = ['renew-edge', '--edge', 'EDGE01', '--mailbox', 'EXCH01', '--pfx', 'C:\\certs\\edge.pfx', '--fqdn', 'mail.contoso.com'];

describe('exch-cert renew on several servers, without connecting', () => {
  it('prints every server\u2019s plan in the order they are renewed, the canary first', () => {
    const result = runCli([...FLEET, '--dry-run']);
    expect(result.status, result.stderr).toBe(0);
    const headers = result.stdout.split('\n').filter((line) => line.startsWith('# ====='));
    expect(headers).toEqual(['# ===== EXCH01: the canary, renewed alone and checked first =====', '# ===== EXCH02: server 2 of 3 =====', '# ===== EXCH03: server 3 of 3 =====']);
    expect(result.stdout).toContain("Import-ExchangeCertificate -Server 'EXCH02'");
    expect(result.stderr).toContain('dry run of renew-certificate on EXCH01, EXCH02, EXCH03: 15 step(s) each; EXCH01 first, then 1 at a time; nothing was changed');
  });

  it('with --drain prints maintenance mode around each renewal, each server draining to one in service', () => {
    const result = runCli([...FLEET, '--drain', '--max-parallel', '2', '--queue-timeout', '900', '--dry-run']);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain("Redirect-Message -Server 'EXCH01' -Target ([string]$target.Fqdn) -Confirm:$false -ErrorAction 'Stop'");
    expect(result.stdout).toContain("$target = Get-ExchangeServer -Identity 'EXCH02' -ErrorAction 'Stop'");
    expect(result.stdout).toContain("$target = Get-ExchangeServer -Identity 'EXCH01' -ErrorAction 'Stop'");
    expect(result.stdout).toContain('$deadline = [DateTime]::UtcNow.AddSeconds(900)');
    expect(result.stdout).toContain('# [26/26] remove-old: Remove the old certificate');
    expect(result.stderr).toContain('24 step(s) each; EXCH01 first, then 2 at a time');
  });

  it('refuses what it cannot honour before anything runs, with a hint and no stack', () => {
    const cases: Array<[string[], string]> = [
      [['renew', '--server', 'EXCH01', '--drain', '--pfx', 'x.pfx', '--fqdn', 'mail.contoso.com', '--dry-run'], 'a dry run of one server cannot ask Exchange for'],
      [[...FLEET, '--all-servers', '--dry-run'], '--all-servers asks the organisation for its servers, and a dry run connects to nothing'],
      [[...FLEET, '--max-parallel', '0', '--dry-run'], '--max-parallel "0" is not a whole number from 1 to 64'],
      [[...FLEET, '--dry-run', '--output', 'plan.ps1'], '--output writes one plan, and a run on several servers has one per server'],
      [['renew', '--server', 'EXCH01,,EXCH02', '--pfx', 'x.pfx', '--fqdn', 'mail.contoso.com', '--dry-run'], 'has an empty name'],
      [['renew', '--server', 'EXCH01,exch01.contoso.com', '--pfx', 'x.pfx', '--fqdn', 'mail.contoso.com', '--dry-run'], 'names exch01.contoso.com twice'],
      [[...FLEET, '--verify-ports', '443,99999', '--dry-run'], '--verify-ports'],
    ];
    for (const [args, message] of cases) {
      const result = runCli(args);
      expect(result.status, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toContain(message);
      expect(result.stderr).not.toMatch(STACK_LINE);
    }
  });
});

describe('exch-cert renew-edge, without connecting', () => {
  it('prints the plan: the Edge reached with its own account, the connector flags explicit, the old certificate last', () => {
    const result = runCli([...EDGE, '--credential-env', 'EDGE_USER,EDGE_PASS', '--inbound-send-connector', 'none', '--dry-run'], { env: { EDGE_PASS: 'Secret-Edge-Pass-1' } });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain("$global:ExchCert.HostCredentials['edge01'] = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList @($exchCertUser, (Read-ExchCertSecret -Name 'credential of EDGE01' -Variable 'EDGE_PASS'))");
    expect(result.stdout).not.toContain('Secret-Edge-Pass-1');
    expect(result.stdout).toContain("Add-PSSnapin -Name 'Microsoft.Exchange.Management.PowerShell.SnapIn'");
    expect(result.stdout).toContain('New-EdgeSubscription -FileData $bytes -Site $site -CreateInternetSendConnector $internet -CreateInboundSendConnector $inbound -Confirm:$false -ErrorAction \'Stop\'');
    expect(result.stdout).toContain("$inbound = [bool](& $decide 'none' 'EdgeSync - Inbound to *')");
    expect(result.stdout).toMatch(/# \[6\/9\] subscription-file: Create a new Edge subscription file on EDGE01\. Exchange warns: subscribing deletes the accepted domains, message classifications, remote domains and Send connectors made by hand on the Edge .* within 1440 minutes\n# {3}known at run time: steps\.import\.outputs\.thumbprint\n# {3}exch-cert: timeout 5m; asks for confirmation \(destructive\)/);
    expect(result.stdout).toContain('# [9/9] remove-old: Remove the old certificate from the Edge');
    expect(result.stderr).toContain('dry run of renew-edge-certificate against EXCH01: 9 step(s), 2 asking for confirmation');
  });

  it('refuses a connector choice it does not know and an Edge account with --simulate', () => {
    const bad = runCli([...EDGE, '--internet-send-connector', 'maybe', '--dry-run']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('internetSendConnector');
    const simulated = runCli([...EDGE, '--simulate', '--credential-env', 'EDGE_USER,EDGE_PASS', '--dry-run']);
    expect(simulated.status).toBe(2);
    expect(simulated.stderr).toContain('--credential-env is the account exch-cert reaches the Edge with over remoting');
  });
});
