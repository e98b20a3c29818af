import { describe, expect, it } from 'vitest';
import type { ConfirmationAnswer } from '../../src/engine/events.js';
import type { Clock, Interrupt } from '../../src/engine/execute.js';
import type { ResumeState } from '../../src/engine/journal.js';
import type { LocalStepOutcome, LocalStepRunners } from '../../src/engine/local-step.js';
import { Masker } from '../../src/engine/mask.js';
import { ExitCode } from '../../src/errors.js';
import { composeMaintenance } from '../../src/fleet/compose.js';
import type { FleetEvent, VerifyResult } from '../../src/fleet/events.js';
import type { ServerResume } from '../../src/fleet/resume.js';
import { runFleet, type FleetOptions, type FleetServer } from '../../src/fleet/run-fleet.js';
import { analyzeRunbook } from '../../src/lint/index.js';
import { compilePlan, type Plan } from '../../src/plan/compile.js';
import { bindParams } from '../../src/plan/params.js';
import { FakeSessions, stepDone, thrown, type FakeBehaviour, type FakeBlock } from '../helpers/fake-session.js';
import { planFromText, shippedRunbookText } from '../helpers/plan.js';

const OLD = 'A'.repeat(40);
const NEW = 'B'.repeat(40);
const NAMES = ['EXCH01', 'EXCH02', 'EXCH03', 'EXCH04', 'EXCH05'];

function interrupt(): Interrupt & { press(): void } {
  const controller = new AbortController();
  let presses = 0;
  return {
    get stopRequested() {
      return presses > 0;
    },
    abortSignal: controller.signal,
    press() {
      presses++;
      if (presses === 2) controller.abort();
    },
  };
}

const clock: Clock = { now: () => 0, sleep: () => Promise.resolve() };

/** The renewal of one server; its TLS probe and check (steps exch-cert runs itself) are off unless asked for. */
async function renewalPlan(server: string, verifyTls = false): Promise<Plan> {
  return planFromText(shippedRunbookText('renew-certificate'), { server, pfxPath: 'C:\\new.pfx', fqdn: 'mail.contoso.com', verifyTls: String(verifyTls) }, { kind: 'remote', server });
}

async function fleetOf(count: number, plan: (server: string) => Promise<Plan> = renewalPlan): Promise<FleetServer[]> {
  return Promise.all(NAMES.slice(0, count).map(async (name) => ({ name, fqdn: `${name.toLowerCase()}.contoso.com`, plan: await plan(name), shellEnv: { SERVER: name } })));
}

/** The server a block went to: each session is started with the environment of its server. */
const serverOf = (sessions: FakeSessions, block: FakeBlock): string => sessions.starts[block.session - 1]?.env['SERVER'] ?? '?';

/** What preflight-renewal decides on a server whose Default Web Site *:443 serves OLD: renew, move the bindings, back OLD up and remove it. */
const PREFLIGHT: Record<string, unknown> = {
  renew: true,
  found: true,
  oldThumbprint: OLD,
  newThumbprint: NEW,
  bindings: ['Default Web Site|*:443:', 'Exchange Back End|*:444:'],
  remove: true,
  rollbackBindings: ['Default Web Site|*:443:', 'Exchange Back End|*:444:'],
  keepReason: '',
  requireSsl: false,
  internalTransport: '',
  createInternalTransport: false,
  moveInternalTransport: false,
  connectors: [],
  updateConnectors: false,
  runningServices: ['MSExchangeFrontEndTransport', 'MSExchangeIMAP4', 'MSExchangePOP3', 'MSExchangeTransport', 'W3SVC', 'WAS'],
  decisions: [`the old certificate ${OLD} is backed up before the first change and removed at the end`],
};

/** The outputs each step reports in a renewal that goes ahead (the steps not named report none). */
const OUTPUTS: Readonly<Record<string, Record<string, unknown>>> = {
  preflight: PREFLIGHT,
  'backup-old': { path: `C:\\ExchCertBackup\\${OLD}.pfx` },
  import: { thumbprint: NEW },
  enable: { changed: true },
  bind: { changed: true },
  'pop-imap-name': { changed: true },
  'rebind-old': { changed: true },
};

/** Every step succeeds as on a server that needs the renewal: read-only steps report ok, the others changed. */
const happy: FakeBehaviour = (block) => stepDone(block, OUTPUTS[block.stepId ?? ''] ?? {}, block.script.includes(`-Id '${block.stepId ?? ''}' -ReadOnly`) ? 'ok' : 'changed');

/** The steps of the renewal that ran on a server that needs it, with verifyTls off (the optional restarts are off by default; no connector nor internal transport to move). */
const RENEWAL_RAN = ['preflight', 'backup-old', 'import', 'enable', 'bind', 'pop-imap-name', 'restart-pop-imap', 'restart-transport', 'iis-reset', 'health', 'remove-old'];

interface Harness {
  readonly sessions: FakeSessions;
  readonly events: FleetEvent[];
  readonly verified: string[];
  readonly confirmations: string[][];
  readonly journals: string[];
  run(extra?: Partial<FleetOptions>): ReturnType<typeof runFleet>;
}

function harness(servers: FleetServer[], behaviour: (sessions: FakeSessions) => FakeBehaviour = () => happy, verify: (server: FleetServer) => VerifyResult = () => ({ ok: true, skipped: false, summary: 'serves it' })): Harness {
  const sessions: FakeSessions = new FakeSessions((block, options) => behaviour(sessions)(block, options));
  const events: FleetEvent[] = [];
  const verified: string[] = [];
  const confirmations: string[][] = [];
  const journals: string[] = [];
  return {
    sessions,
    events,
    verified,
    confirmations,
    journals,
    run: (extra = {}) =>
      runFleet({
        runId: 'F1',
        servers,
        maxParallel: 1,
        sessions,
        masker: new Masker([]),
        interrupt: interrupt(),
        clock,
        runner: { host: 'ADMINPC', pid: 4242 },
        sink: { emit: (event) => events.push(event) },
        fingerprint: 'f',
        toolVersion: '0.0.0-test',
        openJournal: (runId) => {
          journals.push(runId);
          return { problem: undefined, emit: () => undefined, close: () => undefined };
        },
        confirm: (request): Promise<ConfirmationAnswer> => {
          confirmations.push([...request.servers, ...request.steps.map((step) => step.id)]);
          return Promise.resolve('yes');
        },
        verify: (server) => {
          verified.push(server.name);
          return Promise.resolve(verify(server));
        },
        ...extra,
      }),
  };
}

/** The steps each server's renewal finished (not its preflight), skipped ones too, as server:step. */
function renewalSteps(h: Harness): string[] {
  return h.events.flatMap((event) => (event.type === 'server-event' && event.phase === 'renewal' && event.event.type === 'step-finished' ? [`${event.server}:${event.event.stepId}`] : []));
}

/** The steps of one server's preflight or renewal that ran (not skipped), in order. */
function ranSteps(h: Harness, server: string, phase: 'preflight' | 'renewal'): string[] {
  return h.events.flatMap((event) => (event.type === 'server-event' && event.server === server && event.phase === phase && event.event.type === 'step-finished' && event.event.status !== 'skipped' ? [event.event.stepId] : []));
}

const outcomes = (result: Awaited<ReturnType<typeof runFleet>>): string[] => result.servers.map((server) => `${server.server}:${server.outcome}`);

describe('runFleet', () => {
  it('preflights every server, renews the canary alone and checks it, then the rest, and checks every server at the end', async () => {
    const h = harness(await fleetOf(3));
    const result = await h.run();
    expect(result).toMatchObject({ outcome: 'ok', exitCode: ExitCode.ok, message: '3 of 3 server(s) renewed' });
    expect(outcomes(result)).toEqual(['EXCH01:renewed', 'EXCH02:renewed', 'EXCH03:renewed']);
    const order = h.events.filter((event) => event.type === 'preflight-finished' || event.type === 'server-started' || event.type === 'server-verified').map((event) => `${event.type}:${event.server}`);
    expect(order).toEqual([
      'preflight-finished:EXCH01',
      'preflight-finished:EXCH02',
      'preflight-finished:EXCH03',
      'server-started:EXCH01',
      'server-verified:EXCH01',
      'server-started:EXCH02',
      'server-started:EXCH03',
      'server-verified:EXCH01',
      'server-verified:EXCH02',
      'server-verified:EXCH03',
    ]);
    // The preflight ran the read-only steps (the preflight decisions, the backup) and stopped before import, the first change;
    // each renewal ran its own plan in its own shell.
    for (const name of ['EXCH01', 'EXCH02', 'EXCH03']) {
      expect(ranSteps(h, name, 'preflight')).toEqual(['preflight', 'backup-old']);
      expect(ranSteps(h, name, 'renewal')).toEqual(RENEWAL_RAN);
    }
    expect(h.events.filter((event) => event.type === 'preflight-finished').map((event) => event.type === 'preflight-finished' && event.message)).toEqual(
      Array(3).fill('preflight: 2 read-only step(s) ran; stopped before step import, the first that changes the server. Nothing on the server was changed'),
    );
    expect(renewalSteps(h).filter((step) => step.endsWith(':import'))).toEqual(['EXCH01:import', 'EXCH02:import', 'EXCH03:import']);
    // The preflight's decisions steer the renewal: nothing to move for connectors or the internal transport certificate.
    expect(renewalSteps(h).filter((step) => step.startsWith('EXCH01:'))).toEqual(expect.arrayContaining(['EXCH01:internal-transport', 'EXCH01:connectors']));
    expect(h.sessions.sent.some((block) => block.stepId === 'internal-transport' || block.stepId === 'connectors')).toBe(false);
    const imports = h.sessions.sent.filter((block) => block.stepId === 'import');
    expect(imports.map((block) => serverOf(h.sessions, block))).toEqual(['EXCH01', 'EXCH02', 'EXCH03']);
    expect(imports.map((block) => block.script.includes(`-Server '${serverOf(h.sessions, block)}'`))).toEqual([true, true, true]);
    expect(new Set(imports.map((block) => block.session)).size).toBe(3);
    expect(h.journals).toEqual(['F1-exch01', 'F1-exch02', 'F1-exch03']);
    expect(h.confirmations).toEqual([['EXCH01', 'EXCH02', 'EXCH03', 'remove-old']]);
    expect(h.events.at(-1)).toMatchObject({ type: 'fleet-finished', outcome: 'ok', exitCode: 0 });
  });

  it('changes nothing anywhere when one preflight refuses or cannot connect', async () => {
    const h = harness(await fleetOf(3), (sessions) => (block) => {
      if (block.stepId === 'preflight' && serverOf(sessions, block) === 'EXCH03') return thrown(`exch-cert: the old certificate ${OLD} is the Auth certificate (Get-AuthConfig), which a renewal must not replace; nothing was changed`);
      if (!block.stepId && block.script.includes('prologue') && serverOf(sessions, block) === 'EXCH02') return thrown('Connecting to remote server EXCH02 failed: WinRM cannot complete the operation');
      return happy(block, undefined);
    });
    const result = await h.run();
    expect(result.exitCode).toBe(ExitCode.failed);
    expect(result.outcome).toBe('refused');
    expect(result.message).toBe('the preflight of EXCH02, EXCH03 refused; nothing was changed on any server');
    expect(outcomes(result)).toEqual(['EXCH01:not-started', 'EXCH02:refused', 'EXCH03:refused']);
    expect(result.servers[1]).toMatchObject({ exitCode: ExitCode.environment, message: expect.stringContaining('WinRM cannot complete the operation') });
    expect(result.servers[2]?.message).toBe('preflight: step preflight failed. Nothing on the server was changed');
    const refusal = h.events.find((event) => event.type === 'server-event' && event.server === 'EXCH03' && event.event.type === 'step-finished' && event.event.stepId === 'preflight');
    expect(refusal).toMatchObject({ phase: 'preflight', event: { status: 'failed', error: { message: expect.stringContaining('is the Auth certificate') } } });
    // Only read-only steps went anywhere: EXCH01's preflight and backup, EXCH03's preflight (EXCH02 never connected).
    const sentSteps = h.sessions.sent.filter((block) => block.stepId !== undefined);
    expect(sentSteps.map((block) => `${serverOf(h.sessions, block)}:${block.stepId ?? ''}`).sort()).toEqual(['EXCH01:backup-old', 'EXCH01:preflight', 'EXCH03:preflight']);
    expect(sentSteps.filter((block) => !block.script.includes(`-Id '${block.stepId ?? ''}' -ReadOnly`))).toEqual([]);
    expect(h.confirmations).toEqual([]);
  });

  it('after a failure on the second server starts no other; the canary stays renewed; the worst exit code wins', async () => {
    const h = harness(await fleetOf(4), (sessions) => (block) => (block.stepId === 'enable' && serverOf(sessions, block) === 'EXCH02' ? thrown('The certificate store is busy') : happy(block, undefined)));
    const result = await h.run();
    expect(outcomes(result)).toEqual(['EXCH01:renewed', 'EXCH02:failed', 'EXCH03:not-started', 'EXCH04:not-started']);
    expect(result.exitCode).toBe(ExitCode.failed);
    expect(result.message).toBe('1 of 4 server(s) renewed; EXCH02 was not renewed. resume with --resume F1');
    expect(result.servers[2]?.message).toBe('not started: EXCH02 was not renewed');
    // EXCH02 rolled back: the old certificate back on its bindings, IIS restarted, the services that ran started.
    expect(ranSteps(h, 'EXCH02', 'renewal')).toEqual(['preflight', 'backup-old', 'import', 'enable', 'rebind-old', 'rollback-iis-reset', 'start-stopped']);
    expect(renewalSteps(h).some((step) => step.startsWith('EXCH03') || step.startsWith('EXCH04'))).toBe(false);
    // The servers renewed are checked at the end all the same.
    expect(h.verified).toEqual(['EXCH01', 'EXCH01']);
  });

  it('renews the rest at most --max-parallel at once, each in its own shell', async () => {
    let running = 0;
    let most = 0;
    const h = harness(await fleetOf(5), () => async (block) => {
      if (block.stepId !== 'import') return happy(block, undefined);
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 20));
      running--;
      return happy(block, undefined);
    });
    const result = await h.run({ maxParallel: 3 });
    expect(result.exitCode).toBe(0);
    expect(most).toBe(3);
    // The canary ran alone: its import finished before any other began.
    const started = h.events.filter((event) => event.type === 'server-started').map((event) => event.type === 'server-started' && event.server);
    expect(started[0]).toBe('EXCH01');
    const canaryDone = h.events.findIndex((event) => event.type === 'server-finished' && event.server === 'EXCH01');
    const secondStart = h.events.findIndex((event) => event.type === 'server-started' && event.server !== 'EXCH01');
    expect(canaryDone).toBeLessThan(secondStart);
  });

  it('stops before the other servers when the canary does not serve the new certificate', async () => {
    const h = harness(await fleetOf(3), () => happy, (server) => (server.name === 'EXCH01' ? { ok: false, skipped: false, summary: 'exch01.contoso.com:443 serves AAAA instead of BBBB' } : { ok: true, skipped: false, summary: 'ok' }));
    const result = await h.run();
    expect(outcomes(result)).toEqual(['EXCH01:not-verified', 'EXCH02:not-started', 'EXCH03:not-started']);
    expect(result.exitCode).toBe(ExitCode.failed);
    expect(result.servers[0]?.message).toBe('renewed, but exch01.contoso.com:443 serves AAAA instead of BBBB');
    expect(result.servers[1]?.message).toBe('not started: the canary EXCH01 does not serve the new certificate');
  });

  it('asks once for every server; a no stops before the first change with exit 5', async () => {
    const h = harness(await fleetOf(2));
    const result = await h.run({ confirm: () => Promise.resolve('no') });
    expect(result).toMatchObject({ outcome: 'declined', exitCode: ExitCode.confirmationRequired, message: 'the confirmation was declined; nothing was changed on any server' });
    expect(renewalSteps(h)).toEqual([]);
  });

  it('on Ctrl-C lets the running servers finish their step, starts no other, and exits 130', async () => {
    const stop = interrupt();
    const h = harness(await fleetOf(3), (sessions) => (block) => {
      if (block.stepId === 'health' && serverOf(sessions, block) === 'EXCH02') stop.press();
      return happy(block, undefined);
    });
    const result = await h.run({ interrupt: stop });
    expect(outcomes(result)).toEqual(['EXCH01:renewed', 'EXCH02:interrupted', 'EXCH03:not-started']);
    expect(result.exitCode).toBe(ExitCode.interrupted);
    expect(renewalSteps(h).filter((step) => step.startsWith('EXCH02')).at(-1)).toBe('EXCH02:health');
  });

  it('on Ctrl-C during the preflight changes nothing anywhere and exits 130', async () => {
    const stop = interrupt();
    const h = harness(await fleetOf(2), () => (block) => {
      if (block.stepId === 'preflight') stop.press();
      return happy(block, undefined);
    });
    const result = await h.run({ interrupt: stop });
    expect(result).toMatchObject({ outcome: 'interrupted', exitCode: ExitCode.interrupted, message: 'stopped by Ctrl-C during the preflight; nothing was changed on any server' });
    expect(renewalSteps(h)).toEqual([]);
    expect(h.confirmations).toEqual([]);
  });

  it('on --resume skips the servers renewed before and continues the one that stopped part-way', async () => {
    const h = harness(await fleetOf(3));
    const earlier: ResumeState = {
      runId: 'F0-exch02',
      fingerprint: 'x',
      completed: new Map([
        ['preflight', { status: 'ok', outputs: PREFLIGHT }],
        ['backup-old', { status: 'ok', outputs: { path: `C:\\ExchCertBackup\\${OLD}.pfx` } }],
        ['import', { status: 'changed', outputs: { thumbprint: NEW } }],
      ]),
      rolledBack: false,
      host: 'ADMINPC',
      pids: [],
    };
    const servers = new Map<string, ServerResume>([
      ['exch01', { kind: 'done', earlierRunId: 'F0-exch01', outcome: 'renewed' }],
      ['exch02', { kind: 'resume', state: earlier, earlierRunId: 'F0-exch02' }],
    ]);
    const result = await h.run({ resume: { runId: 'F0', servers } });
    expect(outcomes(result)).toEqual(['EXCH01:done-before', 'EXCH02:renewed', 'EXCH03:renewed']);
    expect(h.events[0]).toMatchObject({ type: 'fleet-started', resumedFrom: 'F0', previous: [{ server: 'EXCH01', runId: 'F0-exch01', outcome: 'renewed' }, { server: 'EXCH02', runId: 'F0-exch02' }] });
    // EXCH01 was not touched again (only checked); EXCH02 picked up after its import.
    expect(h.sessions.sent.some((block) => serverOf(h.sessions, block) === 'EXCH01')).toBe(false);
    expect(h.verified[0]).toBe('EXCH01');
    // Its preflight ran again (read-only); the renewal went on from enable with the earlier preflight's decisions.
    expect(h.sessions.sent.filter((block) => serverOf(h.sessions, block) === 'EXCH02' && block.stepId !== undefined).map((block) => block.stepId)).toEqual([
      'preflight',
      'backup-old',
      'enable',
      'bind',
      'pop-imap-name',
      'restart-pop-imap',
      'restart-transport',
      'iis-reset',
      'health',
      'remove-old',
    ]);
  });

  describe('with the TLS probe and check (verifyTls on)', () => {
    const tlsPlan = (server: string): Promise<Plan> => renewalPlan(server, true);

    interface LocalCall {
      readonly server: string;
      readonly kind: string;
      readonly inputs: Readonly<Record<string, unknown>>;
    }
    const served = (server: string): string[] => [`mail.contoso.com:443=${OLD}`, `${server}:443=${OLD}`];

    /** Runners for probe-tls and verify-tls that record what they were given, for the server localStepsFor named. */
    function fakeLocalSteps(calls: LocalCall[], check: (server: string) => LocalStepOutcome = (server) => ({ status: 'ok', outputs: { checked: [`mail.contoso.com:443=${NEW}`, `${server}:443=${NEW}`] } })): (server: FleetServer) => LocalStepRunners {
      return (server) => ({
        'probe-tls': (inputs) => {
          calls.push({ server: server.name, kind: 'probe-tls', inputs });
          return Promise.resolve({ status: 'ok', outputs: { served: served(server.name) } });
        },
        'verify-tls': (inputs) => {
          calls.push({ server: server.name, kind: 'verify-tls', inputs });
          return Promise.resolve(check(server.name));
        },
      });
    }

    it("runs each server's probe before its first change and its check after the restarts, with the runners localStepsFor gives for that server", async () => {
      const calls: LocalCall[] = [];
      const h = harness(await fleetOf(2, tlsPlan));
      const result = await h.run({ localStepsFor: fakeLocalSteps(calls) });
      expect(outcomes(result)).toEqual(['EXCH01:renewed', 'EXCH02:renewed']);
      for (const name of ['EXCH01', 'EXCH02']) {
        expect(ranSteps(h, name, 'preflight')).toEqual(['preflight', 'probe', 'backup-old']);
        expect(ranSteps(h, name, 'renewal')).toEqual(['preflight', 'probe', 'backup-old', 'import', 'enable', 'bind', 'pop-imap-name', 'restart-pop-imap', 'restart-transport', 'iis-reset', 'verify', 'health', 'remove-old']);
        // Probed in the preflight and again in the renewal, checked once: never in PowerShell.
        const mine = calls.filter((call) => call.server === name);
        expect(mine.map((call) => call.kind)).toEqual(['probe-tls', 'probe-tls', 'verify-tls']);
        expect(mine[0]?.inputs).toMatchObject({ servername: 'mail.contoso.com', endpoints: expect.arrayContaining(['mail.contoso.com|443|tls|primary', `${name}|443|tls|`]) });
        // The check reads the preflight's thumbprints and what this server's probe recorded.
        expect(mine[2]?.inputs).toMatchObject({ servername: 'mail.contoso.com', thumbprint: NEW, oldThumbprint: OLD, before: served(name), endpoints: expect.arrayContaining([`${name}|443|tls|`]) });
      }
      expect(h.sessions.sent.some((block) => block.stepId === 'probe' || block.stepId === 'verify')).toBe(false);
    });

    it('rolls back a canary whose check finds the old certificate served, and starts no other server', async () => {
      const calls: LocalCall[] = [];
      const h = harness(await fleetOf(2, tlsPlan));
      const result = await h.run({
        localStepsFor: fakeLocalSteps(calls, (server) => (server === 'EXCH01' ? { status: 'failed', outputs: {}, error: `EXCH01:995 serves ${OLD} instead of ${NEW}` } : { status: 'ok', outputs: {} })),
      });
      expect(outcomes(result)).toEqual(['EXCH01:failed', 'EXCH02:not-started']);
      expect(result.exitCode).toBe(ExitCode.failed);
      // The check was retried, then the old certificate was put back before health could commit the change.
      expect(ranSteps(h, 'EXCH01', 'renewal')).toEqual(['preflight', 'probe', 'backup-old', 'import', 'enable', 'bind', 'pop-imap-name', 'restart-pop-imap', 'restart-transport', 'iis-reset', 'verify', 'rebind-old', 'rollback-iis-reset', 'start-stopped']);
      expect(calls.filter((call) => call.server === 'EXCH01' && call.kind === 'verify-tls')).toHaveLength(4);
      expect(calls.filter((call) => call.server === 'EXCH02').map((call) => call.kind)).toEqual(['probe-tls']);
      expect(h.verified).toEqual([]);
    });

    it('refuses in the preflight, before any change, when it is given no runners for them', async () => {
      const h = harness(await fleetOf(2, tlsPlan));
      const result = await h.run();
      expect(result).toMatchObject({ outcome: 'refused', exitCode: ExitCode.failed, message: 'the preflight of EXCH01, EXCH02 refused; nothing was changed on any server' });
      const probe = h.events.find((event) => event.type === 'server-event' && event.server === 'EXCH01' && event.event.type === 'step-finished' && event.event.stepId === 'probe');
      expect(probe).toMatchObject({ event: { status: 'failed', error: { message: 'step probe is run by exch-cert itself (probe-tls), and this command cannot run it' } } });
      expect(h.sessions.sent.filter((block) => block.stepId !== undefined).map((block) => block.stepId)).toEqual(['preflight', 'preflight']);
      expect(h.confirmations).toEqual([]);
    });
  });

  describe('with --drain', () => {
    async function drainedPlan(server: string): Promise<Plan> {
      const renewal = (await analyzeRunbook({ file: 'renew.yaml', text: shippedRunbookText('renew-certificate') })).runbook;
      const maintenance = (await analyzeRunbook({ file: 'maintenance.yaml', text: shippedRunbookText('maintenance-mode') })).runbook;
      if (!renewal || !maintenance) throw new Error('runbooks');
      const composed = composeMaintenance(renewal, maintenance).runbook;
      const vars = new Map(Object.entries({ server, pfxPath: 'C:\\new.pfx', fqdn: 'mail.contoso.com', verifyTls: 'false', redirectTo: server === 'EXCH01' ? 'EXCH02' : 'EXCH01' }));
      return compilePlan(composed, bindParams(composed, vars), { connection: { kind: 'remote', server }, toolVersion: '0.0.0-test' });
    }
    const maintenance = { enterSteps: ['drain-transport', 'redirect-messages', 'server-offline'], exitSteps: ['server-online', 'transport-active', 'components-active'], rollbackExitSteps: ['rollback-server-online', 'rollback-transport-active', 'rollback-components-active'] };

    it('says so, with exit 4, when a failed server could not be brought back into service', async () => {
      const h = harness(await fleetOf(2, drainedPlan), (sessions) => (block) => {
        if (serverOf(sessions, block) !== 'EXCH02') return happy(block, undefined);
        if (block.stepId === 'restart-transport') return thrown('MSExchangeTransport did not start');
        if (block.stepId === 'rollback-transport-active') return thrown('HubTransport is Inactive, not Active');
        return happy(block, undefined);
      });
      const result = await h.run({ maintenance });
      expect(outcomes(result)).toEqual(['EXCH01:renewed', 'EXCH02:left-changed']);
      expect(result.exitCode).toBe(ExitCode.leftChanged);
      expect(result.servers[1]).toMatchObject({ inMaintenance: true, message: expect.stringMatching(/The server is left changed\. EXCH02 is still in maintenance mode \(out of service\)$/) });
      expect(result.message).toContain('still in maintenance mode: EXCH02');
      // The renewal's rollback ran, then maintenance's, whose failure left the server out of service.
      expect(ranSteps(h, 'EXCH02', 'renewal').slice(-6)).toEqual(['rebind-old', 'rollback-iis-reset', 'start-stopped', 'rollback-server-online', 'rollback-transport-active', 'rollback-components-active']);
    });

    it('reports a server brought back by the rollback as failed, not in maintenance', async () => {
      const h = harness(await fleetOf(2, drainedPlan), (sessions) => (block) => (serverOf(sessions, block) === 'EXCH02' && block.stepId === 'wait-for-queues' ? thrown('the queues of EXCH02 did not empty within 600 s') : happy(block, undefined)));
      const result = await h.run({ maintenance });
      expect(result.servers[1]).toMatchObject({ outcome: 'failed', exitCode: ExitCode.failed, inMaintenance: false });
      expect(renewalSteps(h).filter((step) => step.startsWith('EXCH02:rollback'))).toEqual(['EXCH02:rollback-iis-reset', 'EXCH02:rollback-server-online', 'EXCH02:rollback-transport-active', 'EXCH02:rollback-components-active']);
      // It failed while draining: the renewal's first change never came.
      expect(h.sessions.sent.some((block) => serverOf(h.sessions, block) === 'EXCH02' && block.stepId === 'import')).toBe(false);
    });
  });
});
