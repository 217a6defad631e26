// Runs the real `prometheus` binary next to the emulated cluster (DESIGN.md §5: 127.0.9.1:9095), so
// the demo shows live series and the dashboard test can run every panel query through Prometheus's
// own PromQL engine instead of a re-implementation. It always passes an explicit
// --web.listen-address (the default :9090 is every proxy's admin port) and a throw-away
// --storage.tsdb.path. When the binary is not installed, startPrometheus() returns undefined and
// callers carry on without it (CI installs it through .ci/run; `apt-get install prometheus`).

import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import type { ClusterAddresses } from './addresses.ts';

export interface ScrapeTarget {
  /** Prometheus `job` label. */
  job: string;
  /** host:port serving /metrics. */
  address: string;
}

export interface PrometheusOptions {
  /** host:port for the web UI and API; port 0 picks a free one on that host. */
  listen: string;
  targets: readonly ScrapeTarget[];
  /** Scrape (and rule evaluation) interval, Prometheus syntax. 1 s so a short test sees many samples. */
  scrapeInterval?: string;
  /** Path of the binary; default: `prometheus` found on `searchPath`. */
  binary?: string;
  /** Directories to look for the binary in; default $PATH. */
  searchPath?: string;
  /** Longest wait for /-/ready. */
  startTimeoutMs?: number;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface Prometheus {
  url: string;
  /** Instant query through /api/v1/query; throws on a PromQL error. */
  query(expr: string): Promise<PromSample[]>;
  /** Resolves once every target has been scraped successfully, or throws at the deadline. */
  waitForTargets(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** The first executable `prometheus` on PATH, if any. */
export async function findPrometheus(path = process.env['PATH'] ?? ''): Promise<string | undefined> {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'prometheus');
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Every proxy's admin port and each controller replica's, as the emulated cluster lays them out. */
export function clusterScrapeTargets(addresses: ClusterAddresses, controllers = 1): ScrapeTarget[] {
  return [
    ...addresses.nodes.map((n) => ({ job: 'ikukantai-proxy', address: n.admin })),
    ...addresses.controllerReplicas(controllers).map((c) => ({ job: 'ikukantai-controller', address: c.admin })),
  ];
}

/**
 * The scrape config. honor_labels: our series carry their own `node` and `namespace` labels, which
 * must not be renamed to exported_* (the same reason the ServiceMonitors set honorLabels).
 */
export function scrapeConfig(targets: readonly ScrapeTarget[], interval = '1s'): string {
  const jobs = new Map<string, string[]>();
  for (const t of targets) jobs.set(t.job, [...(jobs.get(t.job) ?? []), t.address]);
  return toYaml({
    // scrape_timeout may not exceed the interval (Prometheus refuses the config otherwise).
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    scrape_configs: [...jobs].map(([job, addrs]) => ({
      job_name: job,
      honor_labels: true,
      static_configs: [{ targets: addrs }],
    })),
  });
}

/** Starts Prometheus scraping `targets`; undefined when the binary is not installed. */
export async function startPrometheus(opts: PrometheusOptions): Promise<Prometheus | undefined> {
  const binary = opts.binary ?? (await findPrometheus(opts.searchPath));
  if (binary === undefined) return undefined;
  const [host, portText] = splitHostPort(opts.listen);
  const port = Number(portText) === 0 ? await freePort(host) : Number(portText);
  const listen = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const dir = await mkdtemp(join(tmpdir(), 'ikukantai-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  await writeFile(config, scrapeConfig(opts.targets, opts.scrapeInterval));
  const child = spawn(
    binary,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=${listen}`,
      '--storage.tsdb.retention.time=1d',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  // Keep the last lines of its log: they say why it failed, if it does.
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4096);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://${listen}`;
  const close = async (): Promise<void> => {
    await stop(child, exited);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(url, child, opts.startTimeoutMs ?? 15_000, () => stderr);
  } catch (err) {
    await close();
    throw err;
  }
  const query = async (expr: string): Promise<PromSample[]> => {
    const res = await fetch(`${url}/api/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ query: expr }),
    });
    const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: PromSample[] } };
    if (body.status !== 'success') throw new Error(`PromQL error for ${expr}: ${body.error ?? res.status}`);
    return body.data?.resultType === 'vector' ? (body.data.result ?? []) : [];
  };
  const waitForTargets = async (timeoutMs = 15_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const res = await fetch(`${url}/api/v1/targets?state=active`);
      const body = (await res.json()) as { data: { activeTargets: Array<{ scrapeUrl: string; health: string; lastError: string }> } };
      const targets = body.data.activeTargets;
      const down = targets.filter((t) => t.health !== 'up');
      if (targets.length === opts.targets.length && down.length === 0) return;
      last = down.map((t) => `${t.scrapeUrl} ${t.health} ${t.lastError}`).join('; ');
      await sleep(200);
    }
    throw new Error(`Prometheus targets not all up after ${timeoutMs} ms: ${last}`);
  };
  return { url, query, waitForTargets, close };
}

function splitHostPort(listen: string): [string, string] {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen);
  if (!m) throw new RangeError(`bad Prometheus listen address "${listen}" (write host:port)`);
  return [(m[1] ?? m[2]) as string, m[3] as string];
}

/** A port free on `host` right now (bound and released); the short race is acceptable for a helper. */
async function freePort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`prometheus exited (${child.exitCode ?? child.signalCode}) at start-up: ${log().trim()}`);
    }
    try {
      const res = await fetch(`${url}/-/ready`);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`prometheus not ready at ${url} within ${timeoutMs} ms: ${log().trim()}`);
}

/** SIGTERM, then SIGKILL if it has not exited within 5 s (a TSDB flush takes well under that here). */
async function stop(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
