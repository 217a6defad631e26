// `npm run bench -- overhead`: what a proxy hop costs (issue 4, DESIGN.md §8). One run measures,
// one target at a time, the backend reached directly and through: our proxy (cc 0, and cc 100 so
// the per-pod breaker is in the path), the minimal undici proxy (the must-baseline), nginx (1
// worker, upstream keep-alive) and http-proxy. Per target: a closed-loop autocannon warm-up, then a
// measured closed-loop run with the proxy's /proc CPU read right before and after (→ µs/request),
// then a paced open-loop run at --rate req/s (→ latency added over direct). All in one run because
// only ratios taken on the same machine at the same time mean anything on a shared 2-core box.
// --profile then runs our proxy once more under load with --cpu-prof and prints where time goes.

import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { UsageError } from '../../lib/cli.ts';
import { BACKEND_BODY } from '../support/backend-server.ts';
import { ChildSet } from '../support/children.ts';
import { closedLoad } from '../support/closed-load.ts';
import { formatProfileSummary, summarizeProfile, type CpuProfile, type ProfileSummary } from '../support/cpu-profile.ts';
import { pacedLoad } from '../support/paced-load.ts';
import {
  BENCH_HOST_HEADER,
  BENCH_HOSTS,
  PeerSkipped,
  REPO_ROOT,
  startBackend,
  startHttpProxy,
  startMinimalProxy,
  startNginxPeer,
  startOurProxy,
  type PeerContext,
  type RunningPeer,
} from '../support/peers.ts';
import { ProcCpu } from '../support/proc-cpu.ts';
import { fileStamp, RESULTS_DIR, writeResults } from '../support/report.ts';
import { parseScenarioArgs, positiveFlag } from '../support/scenario.ts';
import {
  closedTable,
  combineRounds,
  deriveRows,
  formatVerdicts,
  mustFailed,
  pacedTable,
  verdicts,
  type TargetMeasurement,
} from './overhead-report.ts';

interface Target {
  name: string;
  about: string;
  /** undefined: the backend itself (direct). */
  start: ((ctx: PeerContext) => Promise<RunningPeer>) | undefined;
}

const TARGETS: readonly Target[] = [
  { name: 'direct', about: 'the backend, no proxy', start: undefined },
  { name: 'minimal', about: 'minimal undici pool.stream proxy (bench/baseline)', start: startMinimalProxy },
  { name: 'ours', about: 'our proxy, static mode, cc 0', start: (c) => startOurProxy(c, { host: BENCH_HOSTS.ours, containerConcurrency: 0 }) },
  { name: 'ours-cc100', about: 'our proxy, cc 100 (breaker in the path)', start: (c) => startOurProxy(c, { host: BENCH_HOSTS.oursBreaker, containerConcurrency: 100 }) },
  { name: 'nginx', about: 'nginx, 1 worker, upstream keepalive 64', start: startNginxPeer },
  { name: 'http-proxy', about: 'http-proxy with a keep-alive agent', start: startHttpProxy },
];

interface Settings {
  durationS: number;
  warmupS: number;
  connections: number;
  rate: number;
  pacedS: number;
  rounds: number;
  targets: string[];
  profile: boolean;
}

const HELP = `Usage: npm run bench -- overhead [flags]

Flags:
  --duration S         measured closed-loop seconds per target (default 10)
  --warmup S           closed-loop warm-up seconds per target (default 2; the paced run warms 1 s)
  --connections N      closed-loop connections (default 50)
  --rate R             paced open-loop requests per second (default 1000)
  --paced-duration S   measured paced seconds per target (default 10)
  --rounds N           run every target N times, report the median of each figure (default 1;
                       3 on a machine other work shares)
  --targets A,B        run only these (default all: ${TARGETS.map((t) => t.name).join(',')});
                       direct always runs (the added-latency reference)
  --profile            then profile our proxy under load (--cpu-prof) and print the top 15 functions
`;

function settingsFrom(argv: string[]): Settings | undefined {
  const v = parseScenarioArgs(argv, {
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    rate: { type: 'string' },
    'paced-duration': { type: 'string' },
    rounds: { type: 'string' },
    targets: { type: 'string' },
    profile: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return undefined;
  const names = TARGETS.map((t) => t.name);
  const targets = v.targets === undefined ? names : ['direct', ...v.targets.split(',').filter((n) => n !== 'direct')];
  const unknown = targets.filter((t) => !names.includes(t));
  if (unknown.length) throw new UsageError(`unknown target "${unknown[0]}" (one of: ${names.join(', ')})`);
  return {
    durationS: positiveFlag('duration', v.duration, 10),
    warmupS: positiveFlag('warmup', v.warmup, 2),
    connections: Math.round(positiveFlag('connections', v.connections, 50)),
    rate: positiveFlag('rate', v.rate, 1000),
    pacedS: positiveFlag('paced-duration', v['paced-duration'], 10),
    rounds: Math.round(positiveFlag('rounds', v.rounds, 1)),
    targets,
    profile: v.profile ?? false,
  };
}

const HEADERS = { host: BENCH_HOST_HEADER };

/**
 * Requests before any load: the target must answer 200 with the backend's exact body. Up to 3
 * tries 200 ms apart, so one glitch does not end a long run; each miss is returned and counted as
 * a failure of the target, and 3 misses end the run with what the target said.
 */
async function sanityCheck(name: string, url: string, backend: RunningPeer): Promise<number> {
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 200));
    if (!backend.child!.running()) throw new Error(`the backend exited:\n${backend.child!.output() || '(no output)'}`);
    try {
      const res = await request(url + '/', { headers: HEADERS, headersTimeout: 5000, bodyTimeout: 5000 });
      const body = await res.body.text();
      if (res.statusCode === 200 && body === BACKEND_BODY) return attempt;
      last = `${res.statusCode} "${body.slice(0, 100).trim()}"`;
    } catch (err) {
      last = (err as Error).message;
    }
    process.stdout.write(`  ${name}: start-up check failed: ${last}\n`);
  }
  throw new Error(`${name}: expected 200 "${BACKEND_BODY.trim()}" 3 times, last got ${last}`);
}

async function measure(target: Target, peer: RunningPeer, backend: RunningPeer, s: Settings, cpu: ProcCpu): Promise<TargetMeasurement> {
  const say = (what: string): void => void process.stdout.write(`  ${target.name}: ${what}\n`);
  const checkFailures = await sanityCheck(target.name, peer.url, backend);
  const backendPid = backend.child!.pid;
  const load = { url: peer.url + '/', connections: s.connections, headers: HEADERS };
  say(`warm-up ${s.warmupS} s`);
  const warm = await closedLoad({ ...load, durationSeconds: s.warmupS }, BACKEND_BODY);
  say(`closed loop ${s.durationS} s, -c ${s.connections}`);
  const before = peer.pid === undefined ? NaN : cpu.micros(peer.pid);
  const backendBefore = cpu.micros(backendPid);
  const closed = await closedLoad({ ...load, durationSeconds: s.durationS }, BACKEND_BODY);
  const after = peer.pid === undefined ? NaN : cpu.micros(peer.pid);
  const backendAfter = cpu.micros(backendPid);
  say(`paced ${s.rate} req/s, ${s.pacedS} s`);
  const paced = await pacedLoad({
    url: peer.url + '/',
    rate: s.rate,
    durationMs: s.pacedS * 1000,
    warmupMs: 1000,
    headers: HEADERS,
    expectBody: BACKEND_BODY,
  });
  return {
    name: target.name,
    about: target.about,
    closed,
    warmupFailures: checkFailures + warm.failures,
    ...(peer.pid === undefined ? {} : { cpuUsPerRequest: (after - before) / closed.requests }),
    backendCpuUsPerRequest: (backendAfter - backendBefore) / closed.requests,
    paced,
  };
}

/**
 * Our proxy once more, under --cpu-prof; the profile is written when it exits on SIGTERM. Only the
 * measured load counts: the window starts after a warm-up, measured from spawning (the profiler
 * starts a few ms later, which shifts the window slightly into the load, never before it).
 */
async function profileOurs(ctx: PeerContext, s: Settings): Promise<{ summary: ProfileSummary; file: string }> {
  const dir = join(ctx.tmpDir, 'cpu-prof');
  const spawnedAt = performance.now();
  const peer = await startOurProxy(ctx, {
    host: BENCH_HOSTS.ours,
    containerConcurrency: 0,
    nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir],
    proxyArgs: ['--drain-grace', '0s'],
  });
  process.stdout.write(`  ours: profiling ${s.durationS} s of closed-loop load after ${s.warmupS} s warm-up\n`);
  const load = { url: peer.url + '/', connections: s.connections, headers: HEADERS };
  await closedLoad({ ...load, durationSeconds: s.warmupS });
  const from = performance.now();
  await closedLoad({ ...load, durationSeconds: s.durationS });
  const to = performance.now();
  const exit = await peer.child!.stop(15_000);
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`our proxy wrote no .cpuprofile (exit ${exit}):\n${peer.child!.output()}`);
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  const window = { fromUs: (from - spawnedAt) * 1000, toUs: (to - spawnedAt) * 1000 };
  return { summary: summarizeProfile(profile, { root: REPO_ROOT, top: 15, window }), file: join(dir, file) };
}

export async function runOverhead(argv: string[]): Promise<number> {
  const s = settingsFrom(argv);
  if (!s) {
    process.stdout.write(HELP);
    return 0;
  }
  const started = new Date();
  // Other work on the machine is the largest source of error; the 1-minute load average at both ends
  // says how much there was (above the CPU count, expect noisy ratios).
  const loadAtStart = loadavg()[0]!;
  const children = new ChildSet();
  children.stopOnSignals();
  const ctx: PeerContext = { children, tmpDir: mkdtempSync(join(tmpdir(), 'ikukantai-bench-')) };
  const cpu = new ProcCpu();
  const rounds: TargetMeasurement[][] = [];
  let profile: { summary: ProfileSummary; file: string } | undefined;
  try {
    const backend = await startBackend(ctx);
    for (let round = 1; round <= s.rounds; round++) {
      const measurements: TargetMeasurement[] = [];
      for (const target of TARGETS.filter((t) => s.targets.includes(t.name))) {
        process.stdout.write(`${target.name} — ${target.about}${s.rounds > 1 ? ` (round ${round}/${s.rounds})` : ''}\n`);
        let peer: RunningPeer;
        try {
          peer = target.start ? await target.start(ctx) : backend;
        } catch (err) {
          if (!(err instanceof PeerSkipped)) throw err;
          process.stdout.write(`  skipped: ${err.message}\n`);
          measurements.push({ name: target.name, about: target.about, skipped: err.message });
          continue;
        }
        try {
          measurements.push(await measure(target, peer, backend, s, cpu));
        } finally {
          if (peer !== backend) await peer.child?.stop();
        }
      }
      rounds.push(measurements);
    }
    if (s.profile) {
      process.stdout.write('profile — our proxy under --cpu-prof\n');
      profile = await profileOurs(ctx, s).catch((err: unknown) => {
        if (!(err instanceof PeerSkipped)) throw err;
        process.stdout.write(`  skipped: ${err.message}\n`);
        return undefined;
      });
    }
  } finally {
    await children.stopAll();
    children.releaseSignals();
  }

  const loadAtEnd = loadavg()[0]!;
  const measurements = combineRounds(rounds);
  const rows = deriveRows(measurements);
  const vs = verdicts(rows);
  const out = process.stdout;
  const of = s.rounds > 1 ? `; median of ${s.rounds} rounds` : '';
  out.write(`\nClosed loop: ${s.connections} connections, ${s.durationS} s per target after ${s.warmupS} s warm-up${of}; CPU = proxy process tree, user + system\n`);
  out.write(closedTable(rows));
  out.write(`\nPaced open loop: ${s.rate} req/s for ${s.pacedS} s per target${of}; added = target − direct\n`);
  out.write(pacedTable(rows));
  out.write(`\nMachine: ${cpus().length} CPUs, 1-min load average ${loadAtStart.toFixed(1)} at start, ${loadAtEnd.toFixed(1)} at end\n`);
  out.write('\nDESIGN.md §8:\n' + formatVerdicts(vs));
  let profileCopy: string | undefined;
  if (profile) {
    out.write('\nWhere our proxy spends its CPU (self time, --cpu-prof):\n' + formatProfileSummary(profile.summary));
    profileCopy = join(RESULTS_DIR, `overhead-${fileStamp(started)}.cpuprofile`);
    copyFileSync(profile.file, profileCopy);
    out.write(`profile: ${profileCopy} (open in Chrome DevTools → Performance)\n`);
  }
  rmSync(ctx.tmpDir, { recursive: true, force: true });
  const file = writeResults(
    'overhead',
    {
      scenario: 'overhead',
      started: started.toISOString(),
      machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadAtStart, loadAtEnd },
      settings: s,
      targets: measurements,
      ...(rounds.length > 1 ? { rounds } : {}),
      rows,
      verdicts: vs,
      ...(profile ? { profile: profile.summary } : {}),
    },
    started,
  );
  out.write(`\nresults: ${file}\n`);
  return mustFailed(vs, rows) ? 1 : 0;
}
