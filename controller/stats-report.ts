// The stats body of DESIGN.md §4, checked exactly: every field present with its type and range, no
// other keys, names that Kubernetes would accept. A proxy sends exactly this shape, so anything
// else is a bug or an attacker, and a 400 naming the first problem is the most useful answer.

import { isDns1123Label } from '../proxy/pipeline/validate.ts';
import type { StatsReport } from '../proxy/stats/stats-reporter.ts';

export type { StatsReport };

export class BadReportError extends Error {
  readonly code = 'bad_report';
  override readonly name = 'BadReportError';
}

// Kubernetes names: namespaces and revisions are DNS-1123 labels, nodes DNS-1123 subdomains.
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// RFC 3339 §5.6 date-time (seconds fraction optional, Z or a numeric offset).
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

const REPORT_KEYS = ['node', 'time', 'intervalSeconds', 'poke', 'revisions', 'rtt'];
const REVISION_KEYS = ['namespace', 'name', 'concurrency', 'requests', 'queued'];
// A report covers about a second; an hour is far past anything a proxy sends.
const MAX_INTERVAL_SECONDS = 3600;

/** Validates a parsed JSON body; throws BadReportError naming the first bad field. */
export function parseStatsReport(body: unknown): StatsReport {
  const r = object(body, 'body', REPORT_KEYS);
  const node = nodeName(r['node'], 'node');
  const time = r['time'];
  if (typeof time !== 'string' || !RFC3339.test(time) || Number.isNaN(Date.parse(time))) {
    fail('time', 'must be an RFC 3339 date-time');
  }
  const intervalSeconds = number(r['intervalSeconds'], 'intervalSeconds', MAX_INTERVAL_SECONDS);
  const poke = r['poke'];
  if (typeof poke !== 'boolean') fail('poke', 'must be true or false');
  if (!Array.isArray(r['revisions'])) fail('revisions', 'must be an array');
  const seen = new Set<string>();
  const revisions = r['revisions'].map((x: unknown, i: number) => {
    const path = `revisions[${i}]`;
    const o = object(x, path, REVISION_KEYS);
    const rev = {
      namespace: label(o['namespace'], `${path}.namespace`),
      name: label(o['name'], `${path}.name`),
      concurrency: number(o['concurrency'], `${path}.concurrency`),
      requests: whole(o['requests'], `${path}.requests`),
      queued: whole(o['queued'], `${path}.queued`),
    };
    const key = `${rev.namespace}/${rev.name}`;
    if (seen.has(key)) fail(path, `repeats revision ${key}`);
    seen.add(key);
    return rev;
  });
  const rttObj = object(r['rtt'], 'rtt');
  const rtt: Record<string, number> = {};
  for (const [peer, ms] of Object.entries(rttObj)) rtt[nodeName(peer, `rtt key "${peer}"`)] = number(ms, `rtt.${peer}`);
  return { node, time, intervalSeconds, poke, revisions, rtt };
}

function fail(path: string, problem: string): never {
  throw new BadReportError(`${path} ${problem}`);
}

function object(x: unknown, path: string, keys?: readonly string[]): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) fail(path, 'must be an object');
  const o = x as Record<string, unknown>;
  if (keys) {
    for (const k of keys) if (!(k in o)) fail(`${path}.${k}`, 'is missing');
    for (const k of Object.keys(o)) if (!keys.includes(k)) fail(`${path}.${k}`, 'is not a known field');
  }
  return o;
}

function number(x: unknown, path: string, max = Number.MAX_VALUE): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > max) fail(path, 'must be a non-negative number');
  return x;
}

function whole(x: unknown, path: string): number {
  if (!Number.isSafeInteger(x) || (x as number) < 0) fail(path, 'must be a whole number ≥ 0');
  return x as number;
}

function label(x: unknown, path: string): string {
  if (typeof x !== 'string' || !isDns1123Label(x)) fail(path, 'must be a DNS-1123 label');
  return x;
}

function nodeName(x: unknown, path: string): string {
  if (typeof x !== 'string' || x.length > 253 || !SUBDOMAIN.test(x)) fail(path, 'must be a node name (DNS-1123 subdomain)');
  return x;
}
