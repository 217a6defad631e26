// The emulated edge cluster's shape (DESIGN.md §5): which nodes exist, the round-trip time between
// each pair, the demo revision the cluster serves and how its pods behave. One file drives the
// relays, the pods' own delays, the proxies' `--rtt-file` and the demo, so they never disagree.
// Node k (1-based, in file order) gets the addresses of deploy/local/addresses.ts.

import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../../lib/duration.ts';

export interface DemoRevision {
  namespace: string;
  /** Knative Service name; the Seika carries the same name (DESIGN.md §4). */
  service: string;
  revision: string;
  seika: string;
  containerConcurrency: number;
  timeoutSeconds: number;
  readinessPath: string;
}

export interface PodBehaviour {
  /** Time the demo function spends on each request, before any network delay. */
  serviceTimeMs: number;
  /** Time between the process starting and its socket listening (a cold start's image/boot part). */
  startupDelayMs: number;
}

export interface Topology {
  nodes: string[];
  /** Round trip in ms for every ordered pair of distinct nodes (mirrored), 0 within a node. */
  rtt: Map<string, Map<string, number>>;
  demo: DemoRevision;
  pod: PodBehaviour;
}

export class TopologyError extends Error {
  readonly code = 'bad_topology';
  override readonly name = 'TopologyError';
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** Node k's addresses take the third octet 10 + offset + k; 9 nodes keep the default layout within
 * 127.0.10–127.0.19 so test clusters 20 apart in offset never overlap. */
export const MAX_NODES = 9;

/** The default edge: two nearby nodes and one far away (node1 ↔ node2 1 ms, either ↔ node3 50 ms). */
export function defaultTopology(): Topology {
  return parseTopology({
    nodes: ['node1', 'node2', 'node3'],
    rtt: { node1: { node2: 1, node3: 50 }, node2: { node3: 50 } },
  });
}

function fail(msg: string): never {
  throw new TopologyError(`topology: ${msg}`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function name(v: unknown, what: string): string {
  if (typeof v !== 'string' || !DNS_LABEL.test(v)) fail(`${what} must be a DNS-1123 label, got ${JSON.stringify(v)}`);
  return v;
}

function count(v: unknown, what: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) fail(`${what} must be a whole number ≥ 0`);
  return v;
}

function path(v: unknown, what: string, dflt: string): string {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !v.startsWith('/')) fail(`${what} must be a path starting with /`);
  return v;
}

/** A duration as `25ms`/`1s` or a bare number of milliseconds. */
function millis(v: unknown, what: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  if (typeof v === 'string') {
    try {
      return parseDuration(v);
    } catch (err) {
      fail(`${what}: ${(err as Error).message}`);
    }
  }
  fail(`${what} must be a duration like 20ms or a number of milliseconds`);
}

/** Validates a parsed topology document; every problem is one TopologyError line. */
export function parseTopology(doc: unknown): Topology {
  if (!isRecord(doc)) fail('the document must be a mapping');
  const rawNodes = doc.nodes ?? ['node1', 'node2', 'node3'];
  if (!Array.isArray(rawNodes) || rawNodes.length === 0) fail('nodes must be a non-empty list');
  if (rawNodes.length > MAX_NODES) fail(`at most ${MAX_NODES} nodes (their addresses would overlap)`);
  const nodes = rawNodes.map((n, i) => name(n, `nodes[${i}]`));
  if (new Set(nodes).size !== nodes.length) fail('nodes must be distinct');

  const rtt = new Map<string, Map<string, number>>(nodes.map((n) => [n, new Map([[n, 0]])]));
  const rawRtt = doc.rtt ?? {};
  if (!isRecord(rawRtt)) fail('rtt must be a mapping of node to {node: ms}');
  for (const [a, row] of Object.entries(rawRtt)) {
    if (!rtt.has(a)) fail(`rtt names unknown node "${a}"`);
    if (!isRecord(row)) fail(`rtt.${a} must be a mapping of node to ms`);
    for (const [b, ms] of Object.entries(row)) {
      if (!rtt.has(b)) fail(`rtt.${a} names unknown node "${b}"`);
      if (a === b) fail(`rtt.${a}.${b}: a node has no round trip to itself`);
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) fail(`rtt.${a}.${b} must be ms ≥ 0`);
      const seen = rtt.get(a)!.get(b);
      if (seen !== undefined && seen !== ms) fail(`rtt between ${a} and ${b} given twice (${seen} and ${ms})`);
      rtt.get(a)!.set(b, ms);
      rtt.get(b)!.set(a, ms);
    }
  }
  // Every pair needs a figure: a missing one would silently make two distant nodes neighbours.
  for (const a of nodes) for (const b of nodes) if (!rtt.get(a)!.has(b)) fail(`rtt between ${a} and ${b} missing`);

  const d = doc.demo ?? {};
  if (!isRecord(d)) fail('demo must be a mapping');
  const service = name(d.service ?? 'hello', 'demo.service');
  const demo: DemoRevision = {
    namespace: name(d.namespace ?? 'default', 'demo.namespace'),
    service,
    revision: name(d.revision ?? `${service}-00001`, 'demo.revision'),
    seika: name(d.seika ?? service, 'demo.seika'),
    containerConcurrency: count(d.containerConcurrency, 'demo.containerConcurrency', 0),
    timeoutSeconds: count(d.timeoutSeconds, 'demo.timeoutSeconds', 300),
    readinessPath: path(d.readinessPath, 'demo.readinessPath', '/healthz'),
  };

  const p = doc.pod ?? {};
  if (!isRecord(p)) fail('pod must be a mapping');
  const pod: PodBehaviour = {
    serviceTimeMs: millis(p.serviceTime, 'pod.serviceTime', 5),
    startupDelayMs: millis(p.startupDelay, 'pod.startupDelay', 300),
  };
  return { nodes, rtt, demo, pod };
}

export async function loadTopology(path: string): Promise<Topology> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new TopologyError(`topology: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new TopologyError(`topology: ${path} is not YAML/JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  return parseTopology(doc);
}

/** Round trip between two nodes in ms; 0 for the same node or a node the topology doesn't know. */
export function rttBetween(t: Topology, a: string | undefined, b: string | undefined): number {
  if (a === undefined || b === undefined) return 0;
  return t.rtt.get(a)?.get(b) ?? 0;
}

/** The `rtt` table in the static file's format (DESIGN.md §3), each pair once, for `--rtt-file`. */
export function rttTable(t: Topology): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  t.nodes.forEach((a, i) => {
    for (const b of t.nodes.slice(i + 1)) (out[a] ??= {})[b] = t.rtt.get(a)!.get(b)!;
  });
  return out;
}

/** A plain document that parseTopology reads back to the same Topology (to hand to child processes). */
export function topologyDocument(t: Topology): Record<string, unknown> {
  return {
    nodes: t.nodes,
    rtt: rttTable(t),
    demo: t.demo,
    pod: { serviceTime: t.pod.serviceTimeMs, startupDelay: t.pod.startupDelayMs },
  };
}
