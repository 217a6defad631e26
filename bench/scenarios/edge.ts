// `npm run bench -- edge`: what the balancer buys at the edge (issue 7, DESIGN.md §8). Three-node
// clusters over the emulator's default topology (node1 ↔ node2 1 ms, either ↔ node3 50 ms;
// bench/scenarios/edge-cluster.ts): shared pods, one set of three proxies per balancer. The same
// paced, bounded load enters at node3 (the far edge) and at node1 through each set, plus the oracle:
// the client straight to a pod on the entry node, the best any balancer can do.
// Targets take turns in short slices (default 1 s, the order rotating each round) until each has
// had --duration seconds: on a shared 2-core machine a burst of someone else's work then lands on
// every target alike, where back-to-back runs would hand it to whichever ran at the time.
// Per entry node and strategy: mean, p50, p99, share under 20 ms, share served locally, and the
// ratios to the oracle and to round-robin. Must: from node3, least-cost's mean ≤ 1.5 × the oracle's
// and ≥ 3 × better than round-robin's, with no failed request; aim ≤ 1.1 × the oracle.
// (The pick-cost must, ≥ 1 M picks/s at 10 k pods, is `npm run bench -- pick`.)

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { UsageError } from '../../lib/cli.ts';
import { BALANCERS, type BalancerKind } from '../../proxy/balance/picker.ts';
import { defaultTopology } from '../../deploy/local/topology.ts';
import { ChildSet } from '../support/children.ts';
import { fileStamp, RESULTS_DIR, writeResults } from '../support/report.ts';
import { parseScenarioArgs, positiveFlag } from '../support/scenario.ts';
import { EdgeCluster } from './edge-cluster.ts';
import { EdgeClient, servedBy } from './edge-load.ts';
import { edgeSvg, edgeTable, formatVerdicts, makeRow, mustFailed, ORACLE, verdicts, withRatios, type EdgeRow } from './edge-report.ts';

/** Far edge first: it is what the must figures judge. */
const ENTRIES = ['node3', 'node1'] as const;

interface Settings {
  rate: number;
  durationS: number;
  sliceS: number;
  warmupS: number;
  podsPerNode: number;
  strategies: BalancerKind[];
}

const HELP = `Usage: npm run bench -- edge [flags]

Flags:
  --rate R             paced open-loop requests per second per run (default 200)
  --duration S         measured seconds per entry node and strategy (default 10)
  --slice S            seconds per turn; targets take turns until each had --duration (default 1)
  --warmup S           unmeasured seconds of the same load per target before the turns (default 3)
  --pods-per-node N    demo pods on every node (default 2)
  --strategies A,B     balancers to run (default all: ${BALANCERS.join(',')}); the oracle always runs
`;

function settingsFrom(argv: string[]): Settings | undefined {
  const v = parseScenarioArgs(argv, {
    rate: { type: 'string' },
    duration: { type: 'string' },
    slice: { type: 'string' },
    warmup: { type: 'string' },
    'pods-per-node': { type: 'string' },
    strategies: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return undefined;
  const strategies = v.strategies === undefined ? [...BALANCERS] : v.strategies.split(',');
  const unknown = strategies.filter((s) => !(BALANCERS as readonly string[]).includes(s));
  if (unknown.length) throw new UsageError(`unknown strategy "${unknown[0]}" (one of: ${BALANCERS.join(', ')})`);
  const pods = Math.round(positiveFlag('pods-per-node', v['pods-per-node'], 2));
  // Pod hosts are 127.0.(50+k).1–254.
  if (pods > 254) throw new UsageError(`--pods-per-node at most 254, got ${pods}`);
  return {
    rate: positiveFlag('rate', v.rate, 200),
    durationS: positiveFlag('duration', v.duration, 10),
    sliceS: positiveFlag('slice', v.slice, 1),
    warmupS: positiveFlag('warmup', v.warmup, 3),
    podsPerNode: pods,
    strategies: strategies as BalancerKind[],
  };
}

/** One request before the load: 200 and a body naming the node that served it. */
async function sanityCheck(what: string, url: string, headers: Record<string, string>, localAddress?: string): Promise<void> {
  const dispatcher = new Agent(localAddress ? { localAddress } : {});
  try {
    const res = await request(url, { headers, dispatcher, headersTimeout: 5000, bodyTimeout: 5000 });
    const body = await res.body.text();
    if (res.statusCode !== 200 || servedBy(body) === '') {
      throw new Error(`${what}: expected 200 naming a node, got ${res.statusCode} "${body.slice(0, 100).trim()}"`);
    }
  } finally {
    await dispatcher.close();
  }
}

interface Target {
  entry: string;
  strategy: string;
  url: string;
  localAddress?: string;
  client?: EdgeClient;
}

export async function runEdge(argv: string[]): Promise<number> {
  const s = settingsFrom(argv);
  if (!s) {
    process.stdout.write(HELP);
    return 0;
  }
  const started = new Date();
  const topology = defaultTopology();
  const children = new ChildSet();
  children.stopOnSignals();
  const tmpDir = mkdtempSync(join(tmpdir(), 'ikukantai-bench-edge-'));
  const cluster = new EdgeCluster({ topology, podsPerNode: s.podsPerNode, children, tmpDir });
  const headers = { host: cluster.host };
  const out = process.stdout;
  const targets: Target[] = [];
  const turns = Math.max(1, Math.round(s.durationS / s.sliceS));
  // The 1-minute load average before and after: on a shared machine it says how far to trust a run.
  const load = { start: loadavg()[0]!, end: NaN };
  try {
    out.write(`edge — ${topology.nodes.length} nodes, ${s.podsPerNode} pods each, pod service time ${topology.pod.serviceTimeMs} ms; proxies: ${s.strategies.join(', ')}\n`);
    await cluster.start();
    await cluster.startProxies(s.strategies);
    for (const entry of ENTRIES) {
      const pod = cluster.localPod(entry);
      targets.push({ entry, strategy: ORACLE, url: `http://${pod.address}:${pod.port}/`, localAddress: cluster.addresses.node(entry).host });
      for (const strategy of s.strategies) targets.push({ entry, strategy, url: cluster.ingressUrl(entry, strategy) });
    }
    for (const t of targets) {
      await sanityCheck(`${t.entry} ${t.strategy}`, t.url, headers, t.localAddress);
      t.client = new EdgeClient({ url: t.url, headers, ...(t.localAddress ? { localAddress: t.localAddress } : {}) });
    }
    out.write(`warm-up: ${s.warmupS} s at ${s.rate} req/s per target (${targets.length} targets)\n`);
    for (const t of targets) await t.client!.run(s.rate, s.warmupS * 1000, false);
    out.write(`measuring: ${turns} turns of ${s.sliceS} s per target at ${s.rate} req/s, about ${Math.ceil((turns * s.sliceS * targets.length) / 60)} min\n`);
    for (let turn = 0; turn < turns; turn++) {
      for (let k = 0; k < targets.length; k++) await targets[(turn + k) % targets.length]!.client!.run(s.rate, s.sliceS * 1000, true);
    }
  } finally {
    await Promise.all(targets.map((t) => t.client?.close()));
    await cluster.close();
    await children.stopAll();
    children.releaseSignals();
    rmSync(tmpDir, { recursive: true, force: true });
  }
  load.end = loadavg()[0]!;
  const raw = targets.map((t) => makeRow(t.entry, t.strategy, t.client!.result));

  const order = [ORACLE, ...s.strategies];
  const rows: EdgeRow[] = withRatios(raw).sort(
    (a, b) => ENTRIES.indexOf(a.entry as (typeof ENTRIES)[number]) - ENTRIES.indexOf(b.entry as (typeof ENTRIES)[number]) || order.indexOf(a.strategy) - order.indexOf(b.strategy),
  );
  const vs = verdicts(rows);
  out.write(`\nPaced open loop, ${s.rate} req/s, ${turns} × ${s.sliceS} s per row in turns after ${s.warmupS} s warm-up; ×oracle = mean ÷ oracle mean, rr÷this = round-robin mean ÷ this mean (same entry node)\n`);
  out.write(edgeTable(rows));
  out.write(`load average (1 min) ${load.start.toFixed(1)} at start, ${load.end.toFixed(1)} at end, on ${cpus().length} CPUs\n`);
  out.write('\nDESIGN.md §8:\n' + formatVerdicts(vs));
  const file = writeResults(
    'edge',
    {
      scenario: 'edge',
      started: started.toISOString(),
      machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadAverage1m: load },
      settings: s,
      topology: { nodes: topology.nodes, rtt: Object.fromEntries([...topology.rtt].map(([a, row]) => [a, Object.fromEntries(row)])), pod: topology.pod },
      rows,
      verdicts: vs,
    },
    started,
  );
  const svg = edgeSvg(rows, `Edge latency, ${s.rate} req/s, ${started.toISOString().slice(0, 16)}Z`);
  const svgFile = join(RESULTS_DIR, `edge-${fileStamp(started)}.svg`);
  writeFileSync(svgFile, svg);
  writeFileSync(join(RESULTS_DIR, 'edge-latest.svg'), svg);
  out.write(`\nresults: ${file}\nchart: ${svgFile}\n`);
  return mustFailed(vs) ? 1 : 0;
}
