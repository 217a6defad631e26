// `npm run bench -- memory`: the proxy's memory (DESIGN.md §8 "≤ 80 MB RSS idle; bounded under
// 10 k queued requests"), measured the same way every time instead of by hand.
// 1. Idle: one proxy at a time, ready (/readyz 200) and then left alone for --idle seconds, its
//    VmRSS/RssAnon/RssFile read from /proc/<pid>/status, in four configurations: static mode and
//    Kubernetes mode (fake API server in this process), each from the .ts sources and compiled.
//    The aim is judged in MB (10^6 bytes) as DESIGN.md writes it; an aim, so exit code 0 either way.
// 2. Queued: the compiled proxy in static mode, its revision's one pod (containerConcurrency 1)
//    not ready and not listening. Round 1: --queued requests go out in batches until the proxy's
//    ikukantai_proxy_queued_requests says all wait in the cold-start queue; RSS is read; the pod
//    starts listening, the proxy's 25 ms readiness probe passes, and the queue drains one request
//    at a time (cc 1: the proxy holds one upstream socket, not --queued more, which would not fit
//    under `ulimit -n`). Later rounds fill the owner queue behind one request the pod holds, then
//    the pod answers. Every request must get the pod's 200 (else exit 1); after each round the
//    clients close and RSS is read --after seconds later. Rounds tell a leak (RSS rising round on
//    round) from memory the process keeps once grown (RSS settling).
// Addresses: 127.0.250.0/24 (memory-proxy.ts).

import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, request } from 'undici';
import { UsageError } from '../../lib/cli.ts';
import { PROXY_NODE_FLAGS } from '../../proxy/node-flags.ts';
import { metricValue } from '../../test/support/metric-value.ts';
import { BACKEND_BODY } from '../support/backend-server.ts';
import { ChildSet } from '../support/children.ts';
import { REPO_ROOT } from '../support/peers.ts';
import { formatTable, writeResults, type Cell } from '../support/report.ts';
import { parseScenarioArgs, positiveFlag } from '../support/scenario.ts';
import { until } from '../support/wait-ready.ts';
import {
  ADMIN_PORT,
  compileProxy,
  HoldingPod,
  HOST_HEADER,
  MEMORY_HOSTS,
  NAMESPACE,
  openFilesLimit,
  readProcMemory,
  REVISION,
  startKubeApi,
  startMemoryProxy,
  writeStaticEndpoints,
  type ProcMemory,
} from './memory-proxy.ts';

interface Config {
  name: string;
  about: string;
  compiled: boolean;
  kube: boolean;
  host: string;
}

const CONFIGS: readonly Config[] = [
  { name: 'static-ts', about: 'static mode, .ts sources', compiled: false, kube: false, host: '127.0.250.2' },
  { name: 'static-js', about: 'static mode, compiled (the image)', compiled: true, kube: false, host: '127.0.250.3' },
  { name: 'kube-ts', about: 'Kubernetes mode, .ts sources', compiled: false, kube: true, host: '127.0.250.4' },
  { name: 'kube-js', about: 'Kubernetes mode, compiled (the image)', compiled: true, kube: true, host: '127.0.250.5' },
];
const QUEUED = 'queued';
const QUEUE_HOST = '127.0.250.6';
const AIM_MB = 80;
/** Requests opened per step: well under the listen backlog (511), so no SYN waits for a retry. */
const BATCH = 250;
/** Descriptors the bench and the proxy need besides one per queued request. */
const FD_MARGIN = 256;
/** Longest wait for all requests to be queued, and for all to be answered after the release. */
const PHASE_TIMEOUT_MS = 120_000;
/** With everything queued, a pause so the reading holds what the waiters keep, not accept garbage. */
const HOLD_MS = 2000;

interface Settings {
  idleS: number;
  queued: number;
  afterS: number;
  rounds: number;
  configs: string[];
}

const HELP = `Usage: npm run bench -- memory [flags]

Flags:
  --idle S        seconds each proxy idles after /readyz says 200, before RSS is read (default 10)
  --queued N      requests queued in each round (default 10000; lowered with a message
                  when \`ulimit -n\` is too small for N sockets in the bench and in the proxy)
  --after S       seconds after the queued requests were answered and closed, before the last
                  reading (default 5)
  --rounds N      fill and drain the queue N times on the same proxy (default 2): round 1 the
                  cold-start queue, later rounds the owner queue; RSS that keeps rising from round
                  to round would be a leak, RSS that settles is memory the process keeps for reuse
  --configs A,B   which to run (default all: ${[...CONFIGS.map((c) => c.name), QUEUED].join(',')})
`;

function settingsFrom(argv: string[]): Settings | undefined {
  const v = parseScenarioArgs(argv, {
    idle: { type: 'string' },
    queued: { type: 'string' },
    after: { type: 'string' },
    rounds: { type: 'string' },
    configs: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return undefined;
  const names = [...CONFIGS.map((c) => c.name), QUEUED];
  const configs = v.configs === undefined ? names : v.configs.split(',');
  const unknown = configs.filter((c) => !names.includes(c));
  if (unknown.length) throw new UsageError(`unknown configuration "${unknown[0]}" (one of: ${names.join(', ')})`);
  return {
    idleS: positiveFlag('idle', v.idle, 10),
    queued: Math.max(1, Math.round(positiveFlag('queued', v.queued, 10_000))),
    afterS: positiveFlag('after', v.after, 5),
    rounds: Math.max(1, Math.round(positiveFlag('rounds', v.rounds, 2))),
    configs,
  };
}

const mib = (kib: number): number => kib / 1024;
const mb = (kib: number): number => (kib * 1024) / 1e6;

interface IdleRow {
  name: string;
  about: string;
  memory: ProcMemory;
  aimMet: boolean;
}

/** One fill-and-drain of the queue on the same proxy. */
interface QueueRound {
  round: number;
  /** Round 1 fills the cold-start queue; later rounds the owner queue behind a held request. */
  queue: 'cold-start' | 'owner';
  /** ikukantai_proxy_queued_requests when RSS was read. */
  queuedMetric: number;
  queued: ProcMemory;
  after: ProcMemory;
  /** Outcome → count; `ok` is the pod's 200 with its body. */
  outcomes: Record<string, number>;
}

interface QueuedResult {
  requests: number;
  idle: ProcMemory;
  /** Round 1: (VmRSS with all queued − VmRSS idle) / requests. */
  bytesPerRequest: number;
  rounds: QueueRound[];
}

async function queuedNow(): Promise<number> {
  const res = await request(`http://${QUEUE_HOST}:${ADMIN_PORT}/metrics`, { headersTimeout: 5000, bodyTimeout: 5000 });
  const text = await res.body.text();
  return metricValue(text, 'ikukantai_proxy_queued_requests', { namespace: NAMESPACE, revision: REVISION }) ?? 0;
}

/** One request through the pool: `ok`, or what came back instead (status and Ikukantai-Error, or the error code). */
async function send(pool: Pool): Promise<string> {
  try {
    const res = await pool.request({ path: '/', method: 'GET', headers: { host: HOST_HEADER } });
    const body = await res.body.text();
    if (res.statusCode === 200 && body === BACKEND_BODY) return 'ok';
    return `${res.statusCode} ${String(res.headers['ikukantai-error'] ?? body.slice(0, 40).trim())}`;
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  }
}

/**
 * Fills the queue with `n` requests, reads RSS, lets the pod answer, closes the clients and reads
 * RSS again `afterS` later. `release` makes the pod answer; `waiting` is how many of `sent` requests
 * the proxy's queue holds once all have arrived (all of them, or all but the one at the pod).
 */
async function queueRound(pid: number, n: number, afterS: number, waiting: (sent: number) => number, release: () => Promise<void>) {
  // One connection per request (HTTP/1.1 has no multiplexing); undici opens them as requests come.
  const pool = new Pool(`http://${QUEUE_HOST}:8012`, {
    connections: n,
    pipelining: 1,
    localAddress: MEMORY_HOSTS.client,
    headersTimeout: 3 * PHASE_TIMEOUT_MS,
    bodyTimeout: 30_000,
    connect: { timeout: 30_000 },
  });
  const outcomes: Record<string, number> = {};
  let settled = 0;
  try {
    for (let sent = 0; sent < n; ) {
      const batch = Math.min(BATCH, n - sent);
      for (let i = 0; i < batch; i++) {
        void send(pool).then((o) => {
          outcomes[o] = (outcomes[o] ?? 0) + 1;
          settled++;
        });
      }
      sent += batch;
      await until(`${waiting(sent)} requests queued`, PHASE_TIMEOUT_MS, async () => settled > 0 || (await queuedNow()) >= waiting(sent), 50);
      if (settled > 0) throw new Error(`a request was answered before the pod was told to: ${JSON.stringify(outcomes)}`);
    }
    await sleep(HOLD_MS);
    const queued = readProcMemory(pid);
    const queuedMetric = await queuedNow();
    await release();
    await until(`all ${n} requests answered`, PHASE_TIMEOUT_MS, () => settled === n, 50);
    await pool.close();
    await sleep(afterS * 1000);
    return { queuedMetric, queued, after: readProcMemory(pid), outcomes };
  } finally {
    await pool.destroy();
  }
}

async function measureQueued(children: ChildSet, run: { bin: string; cwd: string }, tmpDir: string, s: Settings): Promise<QueuedResult> {
  const n = s.queued;
  const say = (what: string): void => void process.stdout.write(`  queued: ${what}\n`);
  // The proxy never gives up first: the bench's own deadlines end a stuck run.
  const endpoints = writeStaticEndpoints(join(tmpDir, 'endpoints-queued.json'), { containerConcurrency: 1, ready: false, timeoutSeconds: 900 });
  const proxy = await startMemoryProxy(children, {
    name: 'queued',
    ...run,
    compiled: true,
    host: QUEUE_HOST,
    source: { endpoints },
    proxyArgs: ['--max-queued', String(n), '--cold-start-timeout', '15m'],
  });
  const pod = new HoldingPod();
  const rounds: QueueRound[] = [];
  try {
    say(`idle ${s.idleS} s`);
    await sleep(s.idleS * 1000);
    const idle = readProcMemory(proxy.pid);
    for (let round = 1; round <= s.rounds; round++) {
      const cold = round === 1;
      say(`round ${round}: ${n} requests, ${BATCH} at a time, into the ${cold ? 'cold-start queue (pod not listening)' : 'owner queue (pod holding one)'}`);
      pod.holding = !cold;
      const r = cold
        ? await queueRound(proxy.pid, n, s.afterS, (sent) => sent, () => pod.listen())
        : await queueRound(proxy.pid, n, s.afterS, (sent) => sent - 1, async () => pod.release());
      say(`round ${round}: VmRSS ${mib(r.queued.vmRssKiB).toFixed(1)} MiB with ${r.queuedMetric} queued; answered ${JSON.stringify(r.outcomes)}; VmRSS ${mib(r.after.vmRssKiB).toFixed(1)} MiB ${s.afterS} s after`);
      rounds.push({ round, queue: cold ? 'cold-start' : 'owner', ...r });
    }
    return { requests: n, idle, bytesPerRequest: ((rounds[0]!.queued.vmRssKiB - idle.vmRssKiB) * 1024) / n, rounds };
  } finally {
    await pod.close();
    await proxy.stop();
  }
}

function table(idle: readonly IdleRow[], q: QueuedResult | undefined): string {
  const row = (name: string, m: ProcMemory, aim?: string): Cell[] => [name, ...[m.vmRssKiB, m.rssAnonKiB, m.rssFileKiB, m.vmHwmKiB].map(mib), mb(m.vmRssKiB), aim];
  const rows = idle.map((r) => row(r.name, r.memory, r.aimMet ? 'met' : 'missed'));
  if (q) {
    rows.push(row('queued: idle', q.idle));
    for (const r of q.rounds) rows.push(row(`queued: ${r.round} ${r.queue}, ${r.queuedMetric}`, r.queued), row(`queued: ${r.round} after`, r.after));
  }
  const columns = [
    { title: 'configuration' },
    ...['VmRSS MiB', 'RssAnon MiB', 'RssFile MiB', 'VmHWM MiB', 'VmRSS MB'].map((title) => ({ title, digits: 1 })),
    { title: `aim ≤ ${AIM_MB} MB` },
  ];
  return formatTable(columns, rows);
}

/** What each row is, under the table (the table keeps to numbers). */
function legend(idle: readonly IdleRow[], q: QueuedResult | undefined, afterS: number): string {
  const lines = idle.map((r) => `  ${r.name}: ${r.about}`);
  if (q) {
    lines.push(
      '  queued: idle: static mode, compiled, its pod not ready and not listening, before any request',
      `  queued: <round> <queue>, <n>: n requests waiting (the metric), ${q.requests} sent; round 1 in the cold-start queue,`,
      '          later rounds in the owner queue (containerConcurrency 1, the pod holding one request)',
      `  queued: <round> after: every request answered, the clients' sockets closed, ${afterS} s later`,
    );
  }
  return lines.join('\n') + '\n';
}

export async function runMemory(argv: string[]): Promise<number> {
  const s = settingsFrom(argv);
  if (!s) {
    process.stdout.write(HELP);
    return 0;
  }
  const out = process.stdout;
  const started = new Date();
  const loadAtStart = loadavg()[0]!;
  const limit = openFilesLimit();
  if (s.configs.includes(QUEUED) && s.queued + FD_MARGIN > limit) {
    const lowered = limit - FD_MARGIN;
    if (lowered < BATCH) throw new UsageError(`ulimit -n is ${limit}: too low for queued requests (raise it, or leave out "${QUEUED}")`);
    out.write(`ulimit -n is ${limit}: each queued request holds a socket in the bench and one in the proxy, so --queued ${s.queued} becomes ${lowered} (raise ulimit -n for more)\n`);
    s.queued = lowered;
  }
  const children = new ChildSet();
  children.stopOnSignals();
  const tmpDir = mkdtempSync(join(tmpdir(), 'ikukantai-bench-memory-'));
  const chosen = CONFIGS.filter((c) => s.configs.includes(c.name));
  const idle: IdleRow[] = [];
  let queued: QueuedResult | undefined;
  let compileSeconds: number | undefined;
  let api: Awaited<ReturnType<typeof startKubeApi>> | undefined;
  try {
    let compiled: { bin: string; cwd: string } | undefined;
    if (s.configs.includes(QUEUED) || chosen.some((c) => c.compiled)) {
      out.write('compiling with tsc -p tsconfig.build.json (as the image does)\n');
      const c = await compileProxy(tmpDir);
      compiled = { bin: c.bin, cwd: c.cwd };
      compileSeconds = c.seconds;
      out.write(`  compiled in ${c.seconds.toFixed(1)} s\n`);
    }
    const sources = { bin: join(REPO_ROOT, 'proxy/bin.ts'), cwd: REPO_ROOT };
    const endpoints = writeStaticEndpoints(join(tmpDir, 'endpoints.json'), { containerConcurrency: 0, ready: true, timeoutSeconds: 300 });
    if (chosen.some((c) => c.kube)) api = await startKubeApi();
    for (const c of chosen) {
      out.write(`${c.name} — ${c.about}: idle ${s.idleS} s after ready\n`);
      const proxy = await startMemoryProxy(children, {
        name: c.name,
        ...(c.compiled ? compiled! : sources),
        compiled: c.compiled,
        host: c.host,
        source: c.kube ? { kubeconfig: api!.kubeconfigPath } : { endpoints },
      });
      await sleep(s.idleS * 1000);
      if (!proxy.running()) throw new Error(`${c.name} exited while idle:\n${proxy.output()}`);
      const memory = readProcMemory(proxy.pid);
      await proxy.stop();
      idle.push({ name: c.name, about: c.about, memory, aimMet: mb(memory.vmRssKiB) <= AIM_MB });
    }
    await api?.close();
    api = undefined;
    if (s.configs.includes(QUEUED)) {
      out.write(`${QUEUED} — ${s.queued} requests in the cold-start queue of the compiled static proxy\n`);
      queued = await measureQueued(children, compiled!, tmpDir, s);
    }
  } finally {
    await api?.close();
    await children.stopAll();
    children.releaseSignals();
    rmSync(tmpDir, { recursive: true, force: true });
  }
  const loadAtEnd = loadavg()[0]!;
  const allAnswered = !queued || queued.rounds.every((r) => r.outcomes['ok'] === queued.requests);
  out.write(`\nProxy RSS from /proc/<pid>/status (VmHWM = peak so far); node flags ${PROXY_NODE_FLAGS.join(' ')}\n`);
  out.write(table(idle, queued));
  out.write('\n' + legend(idle, queued, s.afterS));
  out.write(`\nMachine: ${cpus().length} CPUs, 1-min load average ${loadAtStart.toFixed(1)} at start, ${loadAtEnd.toFixed(1)} at end; ulimit -n ${limit}\n`);
  out.write('\nDESIGN.md §8 (aims; exit code 0 either way):\n');
  for (const r of idle) out.write(`  ${r.name} idle ${mb(r.memory.vmRssKiB).toFixed(1)} MB ≤ ${AIM_MB} MB: ${r.aimMet ? 'met' : 'missed'}\n`);
  if (queued) {
    const over = (m: ProcMemory): string => {
      const d = mib(m.vmRssKiB - queued.idle.vmRssKiB);
      return `${d >= 0 ? '+' : ''}${d.toFixed(1)} MiB`;
    };
    out.write(`  ${queued.requests} queued: ${(queued.bytesPerRequest / 1024).toFixed(1)} KiB per queued request (round 1 over idle)\n`);
    for (const r of queued.rounds) {
      out.write(`  round ${r.round} (${r.queue}): ${over(r.queued)} over idle while queued, ${over(r.after)} after; answered ${JSON.stringify(r.outcomes)}\n`);
    }
    if (!allAnswered) out.write("  not every request got the pod's 200: exit 1\n");
  }
  const file = writeResults(
    'memory',
    {
      scenario: 'memory',
      started: started.toISOString(),
      machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadAtStart, loadAtEnd, openFilesLimit: limit },
      settings: s,
      ...(compileSeconds === undefined ? {} : { compileSeconds }),
      aimMB: AIM_MB,
      idle,
      ...(queued ? { queued } : {}),
    },
    started,
  );
  out.write(`\nresults: ${file}\n`);
  return allAnswered ? 0 : 1;
}
