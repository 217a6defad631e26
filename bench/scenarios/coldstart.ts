// `npm run bench -- coldstart`: first request to first byte over repeated cold starts (issue 9,
// DESIGN.md §8 "pod listening → first request forwarded ≤ 30 ms"). The emulated cluster runs with
// the real controller and short windows (stable 2 s, scale-to-zero grace 1 s), so the revision
// returns to zero a few seconds after each answer. Per cold start: wait until the Seika asks for
// zero pods everywhere and no EndpointSlice lists a pod, pause for a random part of the 1 s ticks
// (seeded), send one request into node3, time its first byte, and split the wait with the parts'
// own log lines (coldstart-timeline.ts).
//
// Two settings, each on a fresh cluster: ours (poke at once, readiness probe every 25 ms) and a
// Knative-like one (no poke: the controller learns at the next 1 s stats report; readiness every
// 200 ms, the activator's period). The emulated kubelet probes every 1 s (Kubernetes' shortest
// periodSeconds) so that the EndpointSlice never beats the proxy's probe and each setting is
// judged by its own. One unmeasured cold start first warms the processes (JIT, first connections).
// Addresses: cluster offset 200 (127.0.208–213.x); the client connects from 127.0.58.1.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'undici';
import { UsageError } from '../../lib/cli.ts';
import { parseDuration } from '../../lib/duration.ts';
import { createLogger } from '../../lib/log.ts';
import { seededRng, type Rng } from '../../lib/rng.ts';
import { startCluster, type Cluster } from '../../deploy/local/cluster.ts';
import { revisionSliceName } from '../../deploy/local/agent-objects.ts';
import { writeResults } from '../support/report.ts';
import { parseScenarioArgs } from '../support/scenario.ts';
import { until } from '../support/wait-ready.ts';
import {
  aimVerdicts,
  coldStartTable,
  formatVerdicts,
  parseLogLines,
  summarizeSetting,
  timeline,
  type ColdStartFacts,
  type LogLine,
  type Mark,
  type SettingSummary,
  type Timeline,
} from './coldstart-timeline.ts';

const OFFSET = 200;
const CLIENT_ADDRESS = '127.0.58.1';
const ENTRY = 'node3';
const CONTROLLER_ARGS = ['--stable-window', '2s', '--scale-to-zero-grace', '1s'];
/** Kubernetes' shortest readiness periodSeconds. */
const KUBELET_PROBE_MS = 1000;
/** The proxies' stats period and the controller's reconcile tick. */
const TICK_MS = 1000;
/** The phases of the cold starts within the 1 s ticks replay from run to run (issue 9). */
const SEED = 9;
/** How long log lines may take to reach their files after the answer (piped through the launcher). */
const LOG_SETTLE_MS = 3000;

interface Setting {
  name: string;
  about: string;
  proxyArgs: string[];
  poke: boolean;
}

const SETTINGS: readonly Setting[] = [
  { name: 'ours', about: 'poke at once, readiness every 25 ms, stats every 1 s', proxyArgs: ['--cold-start-poke', 'true', '--readiness-interval', '25ms', '--stats-interval', '1s'], poke: true },
  {
    name: 'knative',
    about: 'Knative-like: no poke, stats every 1 s, readiness every 200 ms',
    proxyArgs: ['--cold-start-poke', 'false', '--readiness-interval', '200ms', '--stats-interval', '1s'],
    poke: false,
  },
];

interface Options {
  runs: number;
  timeoutMs: number;
  settings: Setting[];
}

const HELP = `Usage: npm run bench -- coldstart [flags]

Flags:
  --runs N          measured cold starts per setting, after one warm-up (default 6, at most 50)
  --timeout D       longest wait for one cold start, and for the revision to return to zero (default 30s)
  --settings A,B    which settings to run (default ${SETTINGS.map((s) => s.name).join(',')})
`;

function optionsFrom(argv: string[]): Options | undefined {
  const v = parseScenarioArgs(argv, { runs: { type: 'string' }, timeout: { type: 'string' }, settings: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (v.help) return undefined;
  const runs = v.runs === undefined ? 6 : Number(v.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new UsageError(`--runs wants a whole number from 1 to 50, got "${v.runs}"`);
  let timeoutMs = 30_000;
  if (v.timeout !== undefined) {
    try {
      timeoutMs = parseDuration(v.timeout);
    } catch (err) {
      throw new UsageError(`--timeout: ${(err as Error).message}`);
    }
    if (!(timeoutMs > 0)) throw new UsageError('--timeout must be above 0');
  }
  const names = v.settings === undefined ? SETTINGS.map((s) => s.name) : v.settings.split(',');
  const settings = names.map((n) => {
    const s = SETTINGS.find((x) => x.name === n);
    if (!s) throw new UsageError(`unknown setting "${n}" (one of: ${SETTINGS.map((x) => x.name).join(', ')})`);
    return s;
  });
  return { runs, timeoutMs, settings };
}

interface RunRecord {
  ok: boolean;
  error?: string;
  status?: number;
  pod?: string;
  servedBy?: string;
  /** Marks in ms since the request was sent. */
  marks?: Record<string, number>;
}

/** Zero everywhere: the Seika wants no pod and no node's slice lists one (terminating ones included). */
function atZero(cluster: Cluster): boolean {
  const { namespace, seika, revision } = cluster.topology.demo;
  const s = cluster.api.get({ apiVersion: 'batch.bonavadeur.io/v1', kind: 'Seika', namespace, name: seika }) as { spec?: { repurika?: Record<string, number> } } | undefined;
  if (Object.values(s?.spec?.repurika ?? {}).some((n) => n > 0)) return false;
  return cluster.topology.nodes.every((node) => {
    const slice = cluster.api.get({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', namespace, name: revisionSliceName(revision, node) }) as
      | { endpoints?: unknown[] }
      | undefined;
    return (slice?.endpoints?.length ?? 0) === 0;
  });
}

const nowMs = (): number => performance.timeOrigin + performance.now();

interface Sent {
  sentAt: number;
  firstByteAt: number;
  status: number;
  body: string;
}

/** One request on a fresh connection; first byte = response headers parsed. */
async function send(url: string, host: string, timeoutMs: number): Promise<Sent> {
  const client = new Client(url, { localAddress: CLIENT_ADDRESS, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, connectTimeout: 5000 });
  try {
    const sentAt = nowMs();
    const res = await client.request({ path: '/', method: 'GET', headers: { host } });
    const firstByteAt = nowMs();
    const body = await res.body.text();
    return { sentAt, firstByteAt, status: res.statusCode, body };
  } finally {
    await client.close();
  }
}

async function readLines(file: string): Promise<LogLine[]> {
  try {
    return parseLogLines(await readFile(file, 'utf8'));
  } catch {
    return [];
  }
}

async function oneColdStart(
  cluster: Cluster,
  setting: Setting,
  agentLines: readonly LogLine[],
  timeoutMs: number,
  rng: Rng,
): Promise<{ record: RunRecord; timeline?: Timeline }> {
  await until('revision back at zero', timeoutMs, () => atZero(cluster));
  // Zero is reached on a controller tick, so sending at once would always land just after one and
  // the Knative-like run (which waits for a stats report, then a tick, both every 1 s) would always
  // wait about the same. Real requests come at any phase of those ticks: start at a random one.
  await new Promise((r) => setTimeout(r, rng() * TICK_MS));
  const node = cluster.nodes.find((n) => n.name === ENTRY)!;
  let sent: Sent;
  try {
    sent = await send(node.ingressUrl, cluster.host, timeoutMs);
  } catch (err) {
    return { record: { ok: false, error: (err as Error).message } };
  }
  const m = /^Konnichiwa from (\S+) in (\S+)/.exec(sent.body);
  if (sent.status !== 200 || !m) return { record: { ok: false, status: sent.status, error: `answer: ${sent.body.slice(0, 100).trim()}` } };
  const [, pod, servedBy] = m as unknown as [string, string, string];
  const { namespace, revision, seika } = cluster.topology.demo;
  const logs = join(cluster.dir, 'logs');
  const created = (): LogLine | undefined => agentLines.find((l) => l['event'] === 'agent_pod_created' && l['pod'] === pod);
  const facts = (): ColdStartFacts => {
    const address = created()?.['msg'];
    return { sentAt: sent.sentAt, firstByteAt: sent.firstByteAt, namespace, revision, seika, node: ENTRY, pod, ...(typeof address === 'string' && { podAddress: address }) };
  };
  // Every mark this setting should leave; the files fill in asynchronously.
  const wanted: Mark[] = ['patched', 'spawned', 'started', 'listening', 'ready', 'forwarded', ...(setting.poke ? (['poke'] as const) : [])];
  let t: Timeline = {};
  const deadline = Date.now() + LOG_SETTLE_MS;
  for (;;) {
    const [proxy, controller, pods] = await Promise.all([
      readLines(join(logs, `proxy-${ENTRY}.log`)),
      readLines(join(logs, 'controller.log')),
      readLines(join(logs, `pods-${ENTRY}.log`)),
    ]);
    t = timeline(facts(), { proxy, controller, agent: agentLines, pods });
    if (wanted.every((k) => t[k] !== undefined) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const marks = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Math.round((v - sent.sentAt) * 10) / 10]));
  const fresh = t.spawned !== undefined;
  return {
    record: { ok: fresh, pod, servedBy, status: sent.status, marks, ...(!fresh && { error: `${pod} was not started by this request` }) },
    ...(fresh && { timeline: t }),
  };
}

interface SettingResult {
  name: string;
  about: string;
  runs: RunRecord[];
  summary: SettingSummary;
}

async function runSetting(setting: Setting, o: Options, out: NodeJS.WritableStream): Promise<SettingResult> {
  const dir = await mkdtemp(join(tmpdir(), 'ikukantai-bench-coldstart-'));
  const agentLines: LogLine[] = [];
  // The node agents log in this process: keep their lines (pod spawned) in memory.
  const logger = createLogger({ node: 'cluster', write: (line) => agentLines.push(...parseLogLines(line)) });
  out.write(`${setting.name} — ${setting.about}: booting the cluster\n`);
  let cluster: Cluster | undefined;
  const stop = (): void => {
    void cluster?.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  const runs: RunRecord[] = [];
  const timelines: Timeline[] = [];
  const rng = seededRng(SEED);
  try {
    cluster = await startCluster({
      offset: OFFSET,
      withController: true,
      dir,
      logger,
      podLogs: true,
      podProbeIntervalMs: KUBELET_PROBE_MS,
      proxyArgs: setting.proxyArgs,
      controllerArgs: CONTROLLER_ARGS,
    });
    for (let i = 0; i <= o.runs; i++) {
      const { record, timeline: t } = await oneColdStart(cluster, setting, agentLines, o.timeoutMs, rng);
      const label = i === 0 ? 'warm-up' : `${i}/${o.runs}`;
      const total = record.marks?.['firstByte'];
      const overhead = record.marks?.['forwarded'] !== undefined && record.marks['listening'] !== undefined ? record.marks['forwarded'] - record.marks['listening'] : undefined;
      out.write(
        `  ${label}: ${record.ok ? `first byte after ${total?.toFixed(0)} ms, listening → forwarded ${overhead?.toFixed(0) ?? '—'} ms (${record.pod})` : `FAILED ${record.error}`}\n`,
      );
      if (i === 0) continue;
      runs.push(record);
      if (t) timelines.push(t);
    }
  } finally {
    process.removeListener('SIGINT', stop);
    await cluster?.close();
    await rm(dir, { recursive: true, force: true });
  }
  return { name: setting.name, about: setting.about, runs, summary: summarizeSetting(timelines) };
}

export async function runColdstart(argv: string[]): Promise<number> {
  const o = optionsFrom(argv);
  if (!o) {
    process.stdout.write(HELP);
    return 0;
  }
  const out = process.stdout;
  const started = new Date();
  const loadBefore = loadavg()[0]!;
  out.write(`coldstart — ${o.runs} cold starts per setting at ${ENTRY}, controller ${CONTROLLER_ARGS.join(' ')}, kubelet probe every ${KUBELET_PROBE_MS} ms\n`);
  const results: SettingResult[] = [];
  for (const s of o.settings) results.push(await runSetting(s, o, out));
  const loadAfter = loadavg()[0]!;

  out.write(`\nCold starts entering at ${ENTRY}; each phase runs from the previous mark found (no poke: "Seika patched" counts from the request)\n`);
  out.write(coldStartTable(results));
  out.write(`\nload average (1 min): ${loadBefore.toFixed(2)} at the start, ${loadAfter.toFixed(2)} at the end, ${cpus().length} CPUs\n`);
  const verdicts = results.map((r) => ({ setting: r.name, verdicts: aimVerdicts(r.summary) }));
  out.write('\nDESIGN.md §8 (aim, Knative probes every 200 ms):\n');
  for (const v of verdicts) out.write(`${v.setting}:\n${formatVerdicts(v.verdicts)}`);
  const failed = results.reduce((n, r) => n + r.runs.filter((x) => !x.ok).length, 0);
  if (failed) out.write(`\n${failed} cold start(s) failed or were not cold\n`);
  const file = writeResults(
    'coldstart',
    {
      scenario: 'coldstart',
      started: started.toISOString(),
      machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadBefore, loadAfter },
      options: { runs: o.runs, timeoutMs: o.timeoutMs, entry: ENTRY, controllerArgs: CONTROLLER_ARGS, kubeletProbeMs: KUBELET_PROBE_MS },
      settings: results.map((r) => ({ ...r, proxyArgs: SETTINGS.find((s) => s.name === r.name)!.proxyArgs })),
      verdicts,
    },
    started,
  );
  out.write(`\nresults: ${file}\n`);
  // Aims never fail the run; a cold start that failed, or an aim that could not be measured, does.
  const unmeasured = verdicts.some((v) => v.verdicts.some((x) => x.ok === undefined));
  return failed > 0 || unmeasured ? 1 : 0;
}
