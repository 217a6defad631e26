// Composition root of the proxy. A request passes through, in order:
//   front server (8012 ingress or 8014 peer: drain check, framing checks, probe, route)
//   → Exchange (cold-start queue → picker → owner throttler or peer hop → undici attempt → retry)
//   → response streamed back; stats, metrics and the latency estimate updated when it ends.
// Endpoint sources feed the RevisionTable; the readiness prober, stats reporter and RTT prober run
// beside the request path and never block it.

import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../lib/clock.ts';
import type { Listen } from '../lib/cli.ts';
import type { Logger } from '../lib/log.ts';
import { endpointKey, type EndpointSource, type Snapshot } from '../lib/model.ts';
import { mathRng, type Rng } from '../lib/rng.ts';
import { createPicker, type BalancerKind } from './balance/picker.ts';
import { ReadinessProber } from './coldstart/readiness-prober.ts';
import type { ProxyContext } from './context.ts';
import { drain } from './drain.ts';
import { RevisionTable } from './endpoints/revision-table.ts';
import { UpstreamPools } from './forward/upstream-pools.ts';
import { Tunnels } from './forward/tunnel.ts';
import { createProxyMetrics, type ProxyMetrics } from './proxy-metrics.ts';
import { RequestMetrics } from './request-metrics.ts';
import { createAdminServer } from './server/admin-server.ts';
import { createFrontServer, type DrainState } from './server/front-server.ts';
import { DemandMeter } from './stats/demand-meter.ts';
import { RttProber } from './stats/rtt-prober.ts';
import { StatsReporter } from './stats/stats-reporter.ts';

export interface ProxyOptions {
  node: string;
  source: EndpointSource;
  listen: Listen;
  peerListen: Listen;
  adminListen: Listen;
  logger: Logger;
  nodeAddress?: string;
  balancer?: BalancerKind;
  controller?: string;
  statsToken?: string;
  coldStartTimeoutMs?: number;
  drainGraceMs?: number;
  maxQueued?: number;
  /** RTT prior (Kubernetes mode: --rtt-file); a static file's own `rtt` is merged over it. */
  rtt?: Map<string, Map<string, number>>;
  clock?: Clock;
  rng?: Rng;
  /** Readiness probe period for never-ready local pods (DESIGN.md: 25 ms). */
  probeIntervalMs?: number;
  /** Peer RTT probe period (DESIGN.md: 5 s). */
  rttIntervalMs?: number;
  /** Stats report period (DESIGN.md: 1 s). */
  statsIntervalMs?: number;
  /** Poke the controller the moment a request finds its revision cold (default true). Off, the
   * controller learns at the next stats report, as Knative's autoscaler does: the bench's baseline. */
  coldStartPoke?: boolean;
}

export interface RunningProxy {
  ingress: AddressInfo;
  peer: AddressInfo;
  admin: AddressInfo;
  metrics: ProxyMetrics;
  table: RevisionTable;
  /** The DESIGN.md drain sequence, then everything closed. */
  drain(): Promise<'idle' | 'deadline'>;
  /** Immediate stop: listeners, sockets, pools, timers. */
  close(): Promise<void>;
}

export async function startProxy(o: ProxyOptions): Promise<RunningProxy> {
  const clock = o.clock ?? systemClock;
  const metrics = createProxyMetrics(o.node, undefined, function* () {
    for (const rt of table.revisions) {
      const { namespace, name } = rt.info;
      yield { namespace, name, inflight: rt.throttler.inflight, queued: rt.queued };
    }
  });
  const logger = o.logger;
  const pools = new UpstreamPools({ localAddress: o.nodeAddress });
  const prober = new ReadinessProber({ intervalMs: o.probeIntervalMs, localAddress: o.nodeAddress, logger });
  const rttProber = new RttProber({
    node: o.node,
    peers: () => table.peers.values(),
    prior: o.rtt ?? new Map(),
    metrics: metrics.nodeRtt,
    localAddress: o.nodeAddress,
    intervalMs: o.rttIntervalMs,
    clock,
    logger,
  });
  const probing = new Set<string>();
  let wantedProbes = new Set<string>();
  const table: RevisionTable = new RevisionTable({
    node: o.node,
    maxQueued: o.maxQueued,
    rttMs: (to) => rttProber.rttMs(to),
    onNeverReady: (rt, e) => {
      const key = `${rt.key}|${endpointKey(e)}`;
      wantedProbes.add(key);
      if (probing.has(key)) return;
      probing.add(key);
      prober.watch(key, { address: e.address, port: e.port, path: rt.info.readinessPath }, () => {
        probing.delete(key);
        const current = table.byName(rt.info.namespace, rt.info.name);
        if (current) {
          logger.info('pod_probed_ready', { namespace: rt.info.namespace, revision: rt.info.name, msg: endpointKey(e) });
          table.markProbedReady(current, endpointKey(e));
        }
      });
    },
  });
  const demand = new DemandMeter(clock);
  const queuedNow = (ns: string, name: string): number => table.byName(ns, name)?.queued ?? 0;
  const reporter =
    o.controller && o.statsToken
      ? new StatsReporter({
          url: o.controller,
          token: o.statsToken,
          node: o.node,
          meter: demand,
          queuedNow,
          rtt: () => rttProber.rttByNode(),
          intervalMs: o.statsIntervalMs,
          logger,
          clock,
          localAddress: o.nodeAddress,
        })
      : undefined;
  const ctx: ProxyContext = {
    node: o.node,
    table,
    pools,
    picker: createPicker(o.balancer ?? 'least-cost', { rng: o.rng ?? mathRng }),
    metrics,
    requestMetrics: new RequestMetrics(metrics),
    logger,
    clock,
    demand,
    poke:
      o.coldStartPoke === false || reporter === undefined
        ? () => {}
        : (ns, name) => {
            // Logged for the first waiter only: one line per cold start (the cold-start bench's
            // "poke sent"), not one per request, even while the controller is unreachable.
            if (table.byName(ns, name)?.coldQueue.size === 1) logger.info('cold_start_poke', { namespace: ns, revision: name });
            reporter.poke(ns, name);
          },
    coldStartTimeoutMs: o.coldStartTimeoutMs ?? 60_000,
    active: { count: 0 },
  };

  const onSnapshot = (s: Snapshot): void => {
    if (s.rtt.size > 0) rttProber.setPrior(mergeRtt(o.rtt, s.rtt));
    wantedProbes = new Set();
    const cold = [...table.revisions].filter((rt) => rt.coldQueue.size > 0);
    table.apply(s);
    // Waiters the source released (Kubernetes marked a pod ready before our probe passed); the
    // probe's own release is `pod_probed_ready`. The cold-start bench reads either as "ready".
    for (const rt of cold) {
      if (rt.coldQueue.size === 0 && table.byName(rt.info.namespace, rt.info.name) === rt) {
        logger.info('cold_start_released', { namespace: rt.info.namespace, revision: rt.info.name, msg: 'a pod is ready in the endpoint source' });
      }
    }
    for (const key of probing) {
      if (wantedProbes.has(key)) continue;
      probing.delete(key);
      prober.unwatch(key);
    }
    const origins = new Set<string>();
    for (const rt of table.revisions) for (const key of rt.endpoints.keys()) origins.add(key);
    for (const p of table.peers.values()) origins.add(`${p.address}:${p.port}`);
    pools.retain(origins);
  };

  const drainState: DrainState = { closed: false };
  const tunnels = new Tunnels();
  const ingress = createFrontServer(ctx, 'ingress', drainState, tunnels);
  const peer = createFrontServer(ctx, 'peer', drainState, tunnels);
  let draining = false;
  const admin = createAdminServer(metrics.registry, { ready: () => !draining && o.source.synced() && ingress.listening });

  // Admin first so /healthz answers while the source syncs; the request listeners once routes exist.
  await listen(admin, o.adminListen);
  await o.source.start(onSnapshot);
  await listen(ingress, o.listen);
  await listen(peer, o.peerListen);
  rttProber.start();
  reporter?.start();
  logger.info('proxy_started', {
    msg: `ingress ${fmt(ingress)}, peer ${fmt(peer)}, admin ${fmt(admin)}, ${[...table.revisions].length} revisions`,
  });

  const closeAll = async (): Promise<void> => {
    prober.close();
    await Promise.all([rttProber.close(), reporter?.close(), o.source.close()]);
    for (const s of [ingress, peer, admin]) {
      s.close();
      s.closeAllConnections();
    }
    tunnels.destroyAll();
    await pools.close();
  };

  return {
    ingress: ingress.address() as AddressInfo,
    peer: peer.address() as AddressInfo,
    admin: admin.address() as AddressInfo,
    metrics,
    table,
    async drain() {
      draining = true;
      const longest = (): number => Math.max(1000, ...[...table.revisions].map((rt) => rt.timeoutMs));
      const how = await drain({ ctx, servers: [ingress, peer], state: drainState, tunnels, graceMs: o.drainGraceMs ?? 5000, longestTimeoutMs: longest });
      logger.info('drain_finished', { msg: how });
      await closeAll();
      return how;
    },
    async close() {
      draining = true;
      await closeAll();
    },
  };
}

async function listen(server: Server, at: Listen): Promise<void> {
  server.listen(at.port, at.host);
  await once(server, 'listening');
}

function fmt(s: Server): string {
  const a = s.address() as AddressInfo;
  return `${a.address}:${a.port}`;
}

function mergeRtt(base: Map<string, Map<string, number>> | undefined, over: Map<string, Map<string, number>>): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const src of [base ?? new Map<string, Map<string, number>>(), over]) {
    for (const [a, row] of src) out.set(a, new Map([...(out.get(a) ?? []), ...row]));
  }
  return out;
}
