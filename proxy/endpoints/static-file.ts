// The static endpoints file (DESIGN.md §3 "Static file"): the standalone mode's whole view of the
// world, written by hand, by the demo and by tests. Parsing is pure and strict, because a file that
// half-loads would route silently wrong: every error is one line naming the path into the document
// (`revisions[1].endpoints[0].port: must be 1-65535, got 0`), which the bin prints as its single
// exit-2 line at start-up and the source logs when a later edit is rejected. Unknown keys are only
// warnings, so a newer file still loads on an older proxy.

import { isIP } from 'node:net';
import { parseDocument } from 'yaml';
import { revisionKey, symmetricRtt, type Endpoint, type Peer, type Revision, type Snapshot } from '../../lib/model.ts';

export class StaticFileError extends Error {
  readonly code = 'bad_endpoints_file';
  /** Path into the document (`revisions[0].name`), '' when the document as a whole is bad. */
  readonly path: string;
  constructor(path: string, problem: string, fileName?: string) {
    super([fileName, path, problem].filter(Boolean).join(': '));
    this.name = 'StaticFileError';
    this.path = path;
  }
}

export interface ParseOptions {
  /** This proxy's node (`--node-name`); a file that names another node is refused. */
  nodeName: string;
  /** Prefixed to error messages; a `.json` name makes JSON syntax errors win over YAML's. */
  fileName?: string;
}

export interface ParsedStaticFile {
  snapshot: Snapshot;
  /** One line each, path first: unknown keys, unusable endpoints, YAML warnings. */
  warnings: string[];
}

// Knative defaults: revision timeout 300 s, containerConcurrency 0 (unlimited).
const DEFAULT_TIMEOUT_SECONDS = 300;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
// A host name as the router compares it with the Host header after stripping the port: DNS labels
// (which also covers IPv4 literals), an optional trailing dot kept as written, 253 chars at most
// (RFC 1035 §2.3.4). Ports, schemes, paths and wildcards can never match, so they are errors.
const HOST_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*\.?$/;
// Sent in a GET request line by the readiness prober: no whitespace or control characters.
const READINESS_PATH = /^\/[\x21-\x7e]*$/;

const TOP_KEYS = ['node', 'nodes', 'rtt', 'revisions'];
const REVISION_KEYS = ['namespace', 'name', 'hosts', 'containerConcurrency', 'timeoutSeconds', 'readinessPath', 'endpoints'];
const ENDPOINT_KEYS = ['address', 'port', 'node', 'ready', 'terminating'];
const NODE_KEYS = ['peer'];

type Doc = Record<string, unknown>;

export function parseStaticFile(text: string, opts: ParseOptions): ParsedStaticFile {
  const fail = (path: string, problem: string): never => {
    throw new StaticFileError(path, problem, opts.fileName);
  };
  const warnings: string[] = [];
  const root = loadDocument(text, opts.fileName, warnings, fail);
  if (root === null || root === undefined) return fail('', 'the document is empty');
  if (!isRecord(root)) return fail('', `the document must be a mapping (node, nodes, rtt, revisions), got ${show(root)}`);
  warnUnknown(root, TOP_KEYS, '', warnings);

  if (root['node'] !== undefined && root['node'] !== opts.nodeName) {
    fail('node', `this file is for node ${show(root['node'])}, this proxy runs on node "${opts.nodeName}"`);
  }
  const peers = readNodes(root['nodes'], warnings, fail);
  const rtt = readRtt(root['rtt'], warnings, fail);

  const list = root['revisions'];
  if (!Array.isArray(list)) return fail('revisions', `must be a list of revisions, got ${show(list)}`);
  const revisions: Revision[] = [];
  const byKey = new Map<string, string>();
  const hostOwner = new Map<string, string>();
  list.forEach((raw, i) => {
    const path = `revisions[${i}]`;
    const { rev, hostAt } = readRevision(raw, path, warnings, fail);
    const key = revisionKey(rev.namespace, rev.name);
    const earlier = byKey.get(key);
    if (earlier) fail(path, `duplicate revision ${key} (also ${earlier})`);
    byKey.set(key, path);
    rev.hosts.forEach((host, h) => {
      const owner = hostOwner.get(host);
      if (owner) fail(`${path}.hosts[${hostAt[h]}]`, `host "${host}" already routes to ${owner}`);
      hostOwner.set(host, `${key} (${path})`);
    });
    rev.endpoints.forEach((e, j) => {
      if (e.node !== opts.nodeName && !peers.has(e.node)) {
        warnings.push(`${path}.endpoints[${j}]: unusable: no peer for node ${e.node} (add nodes.${e.node}.peer)`);
      }
    });
    revisions.push(rev);
  });
  return { snapshot: { revisions, peers, rtt }, warnings };
}

function loadDocument(
  text: string,
  fileName: string | undefined,
  warnings: string[],
  fail: (path: string, problem: string) => never,
): unknown {
  // JSON is YAML 1.2, so one YAML parser reads both and also refuses duplicate keys, where
  // JSON.parse would silently let the last one win. When a file meant as JSON is broken, though,
  // JSON.parse's message ("Expected ',' or '}' ... at position 31") is the sensible one to show.
  const looksJson = fileName?.toLowerCase().endsWith('.json') === true || /^\s*[{[]/.test(text);
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    if (looksJson) {
      try {
        JSON.parse(text);
      } catch (err) {
        fail('', `invalid JSON: ${oneLine((err as Error).message)}`);
      }
    }
    fail('', `invalid ${looksJson ? 'JSON' : 'YAML'}: ${yamlMessage(first)}`);
  }
  for (const w of doc.warnings) warnings.push(`YAML: ${yamlMessage(w)}`);
  try {
    // maxAliasCount bounds alias expansion ("billion laughs"); the yaml default is 100.
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return fail('', `invalid YAML: ${oneLine((err as Error).message)}`);
  }
}

function readNodes(raw: unknown, warnings: string[], fail: (p: string, m: string) => never): Map<string, Peer> {
  const peers = new Map<string, Peer>();
  if (raw === undefined) return peers;
  if (!isRecord(raw)) return fail('nodes', `must be a mapping of node name to { peer: "host:port" }, got ${show(raw)}`);
  for (const [node, entry] of Object.entries(raw)) {
    const path = `nodes.${node}`;
    if (node === '') fail('nodes', 'node names must not be empty');
    if (!isRecord(entry)) fail(path, `must be a mapping like { peer: "host:port" }, got ${show(entry)}`);
    warnUnknown(entry, NODE_KEYS, path, warnings);
    const hostPort = parseHostPort(entry['peer']);
    if (!hostPort) fail(`${path}.peer`, `must be "host:port" (IPv6 as "[addr]:port", port 1-65535), got ${show(entry['peer'])}`);
    peers.set(node, { node, ...hostPort });
  }
  return peers;
}

function readRtt(raw: unknown, warnings: string[], fail: (p: string, m: string) => never): Map<string, Map<string, number>> {
  if (raw === undefined) return new Map();
  if (!isRecord(raw)) return fail('rtt', `must be a mapping like { node1: { node3: 50 } }, got ${show(raw)}`);
  const pairs: Record<string, Record<string, number>> = Object.create(null);
  const seen = new Map<string, { path: string; ms: number }>();
  for (const [a, row] of Object.entries(raw)) {
    if (!isRecord(row)) fail(`rtt.${a}`, `must be a mapping of node to milliseconds, got ${show(row)}`);
    const out: Record<string, number> = (pairs[a] = Object.create(null));
    for (const [b, value] of Object.entries(row)) {
      const path = `rtt.${a}.${b}`;
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) fail(path, `must be a number of milliseconds >= 0, got ${show(value)}`);
      // The table is symmetric: a pair given both ways with different values is a likely typo.
      const pairKey = a < b ? `${a}\n${b}` : `${b}\n${a}`;
      const other = seen.get(pairKey);
      if (other && other.ms !== value) warnings.push(`${path}: ${value} differs from ${other.path} (${other.ms}); ${value} is used both ways`);
      seen.set(pairKey, { path, ms: value });
      out[b] = value;
    }
  }
  return symmetricRtt(pairs);
}

/** The revision, and for each of its (deduplicated) hosts the index it had in the document. */
function readRevision(
  raw: unknown,
  path: string,
  warnings: string[],
  fail: (p: string, m: string) => never,
): { rev: Revision; hostAt: number[] } {
  if (!isRecord(raw)) return fail(path, `must be a mapping with namespace, name and endpoints, got ${show(raw)}`);
  warnUnknown(raw, REVISION_KEYS, path, warnings);
  const namespace = raw['namespace'];
  const name = raw['name'];
  if (typeof namespace !== 'string' || !DNS1123_LABEL.test(namespace)) fail(`${path}.namespace`, labelProblem(namespace));
  if (typeof name !== 'string' || !DNS1123_LABEL.test(name)) fail(`${path}.name`, labelProblem(name));

  const hosts: string[] = [];
  const hostAt: number[] = [];
  const rawHosts = raw['hosts'] ?? [];
  if (!Array.isArray(rawHosts)) fail(`${path}.hosts`, `must be a list of host names, got ${show(rawHosts)}`);
  rawHosts.forEach((h: unknown, k: number) => {
    const host = typeof h === 'string' ? h.toLowerCase() : undefined;
    if (host === undefined || host.length > 253 || !HOST_NAME.test(host)) {
      fail(`${path}.hosts[${k}]`, `must be a host name without port or scheme, got ${show(h)}`);
    }
    if (hosts.includes(host)) warnings.push(`${path}.hosts[${k}]: "${host}" listed twice, ignored`);
    else {
      hosts.push(host);
      hostAt.push(k);
    }
  });

  const cc = raw['containerConcurrency'] ?? 0;
  if (!isInt(cc) || cc < 0) fail(`${path}.containerConcurrency`, `must be an integer >= 0 (0 = unlimited), got ${show(cc)}`);
  const timeout = raw['timeoutSeconds'] ?? DEFAULT_TIMEOUT_SECONDS;
  if (!isInt(timeout) || timeout < 1) fail(`${path}.timeoutSeconds`, `must be an integer >= 1, got ${show(timeout)}`);
  const readinessPath = raw['readinessPath'];
  if (readinessPath !== undefined && (typeof readinessPath !== 'string' || !READINESS_PATH.test(readinessPath))) {
    fail(`${path}.readinessPath`, `must be a path starting with "/" without spaces, got ${show(readinessPath)}`);
  }

  // A revision with no endpoints is scaled to zero: requests wait for a pod (cold start).
  const rawEndpoints = raw['endpoints'] ?? [];
  if (!Array.isArray(rawEndpoints)) fail(`${path}.endpoints`, `must be a list of endpoints, got ${show(rawEndpoints)}`);
  const endpoints: Endpoint[] = [];
  const at = new Map<string, number>();
  rawEndpoints.forEach((e: unknown, j: number) => {
    const endpoint = readEndpoint(e, `${path}.endpoints[${j}]`, warnings, fail);
    const key = `${endpoint.address}|${endpoint.port}`;
    const first = at.get(key);
    if (first !== undefined) fail(`${path}.endpoints[${j}]`, `same address and port as endpoints[${first}]`);
    at.set(key, j);
    endpoints.push(endpoint);
  });

  const rev: Revision = {
    namespace,
    name,
    hosts,
    containerConcurrency: cc,
    timeoutSeconds: timeout,
    endpoints,
  };
  if (readinessPath !== undefined) rev.readinessPath = readinessPath;
  return { rev, hostAt };
}

function readEndpoint(raw: unknown, path: string, warnings: string[], fail: (p: string, m: string) => never): Endpoint {
  if (!isRecord(raw)) return fail(path, `must be a mapping like { address, port, node }, got ${show(raw)}`);
  warnUnknown(raw, ENDPOINT_KEYS, path, warnings);
  const { address, port, node } = raw;
  const ready = raw['ready'] ?? true;
  const terminating = raw['terminating'] ?? false;
  if (typeof address !== 'string' || isIP(address) === 0) fail(`${path}.address`, `must be an IPv4 or IPv6 address, got ${show(address)}`);
  if (!isPort(port)) fail(`${path}.port`, `must be 1-65535, got ${show(port)}`);
  if (typeof node !== 'string' || node === '') fail(`${path}.node`, `must be a node name, got ${show(node)}`);
  if (typeof ready !== 'boolean') fail(`${path}.ready`, `must be true or false, got ${show(ready)}`);
  if (typeof terminating !== 'boolean') fail(`${path}.terminating`, `must be true or false, got ${show(terminating)}`);
  return { address, port, node, ready, terminating };
}

function parseHostPort(v: unknown): { address: string; port: number } | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(v) ?? /^([^:[\]]+):(\d{1,5})$/.exec(v);
  if (!m) return undefined;
  const address = m[1]!;
  const port = Number(m[2]);
  const bracketed = v.startsWith('[');
  const valid = bracketed ? isIP(address) === 6 : isIP(address) === 4 || HOST_NAME.test(address.toLowerCase());
  return valid && isPort(port) ? { address, port } : undefined;
}

function isInt(v: unknown): v is number {
  return Number.isSafeInteger(v);
}

function isPort(v: unknown): v is number {
  return isInt(v) && v >= 1 && v <= 65535;
}

function labelProblem(v: unknown): string {
  if (v === undefined) return 'required';
  return `must be a DNS-1123 label (lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit), got ${show(v)}`;
}

function warnUnknown(obj: Doc, known: readonly string[], path: string, warnings: string[]): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) warnings.push(`${path ? `${path}.` : ''}${key}: unknown key, ignored`);
  }
}

function isRecord(v: unknown): v is Doc {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value as it appears in a message: JSON, cut at 40 characters so the message stays one line. */
function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = Array.isArray(v) ? 'a list' : isRecord(v) ? 'a mapping' : JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function yamlMessage(e: { message: string; linePos?: [{ line: number; col: number }] | [{ line: number; col: number }, { line: number; col: number }] }): string {
  // prettyErrors appends " at line L, column C:" and a code frame; keep the first line only.
  const head = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  const pos = e.linePos?.[0];
  return pos ? `line ${pos.line}, column ${pos.col}: ${head}` : head;
}

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > 160 ? `${flat.slice(0, 157)}...` : flat;
}
