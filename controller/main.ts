// The controller's composition root. A report travels:
//   proxy ─POST /v1/stats─► stats-server (token, size, schema) ─► demand-store (per node, expiring)
//        └ poke ─► reconcile-loop now   └ follower ─► report-forwarder ─► the leader's /v1/stats
// and every tick (1 s) the reconcile-loop reads the store and the revision-watcher's caches,
// decides per Seika (revision-scaler: windows → KPA decider → placement) and, on the leader only
// (leader-election, a Lease), merge-patches spec.repurika through the seika-patcher.

import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { systemClock, type Clock } from '../lib/clock.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { createAdminServer } from './admin-server.ts';
import type { ControllerConfig } from './config.ts';
import { createControllerMetrics } from './controller-metrics.ts';
import { DemandStore } from './demand-store.ts';
import { LeaderElector } from './leader-election.ts';
import { ReconcileLoop } from './reconcile-loop.ts';
import { ReportForwarder } from './report-forwarder.ts';
import { RevisionWatcher } from './revision-watcher.ts';
import { SeikaPatcher } from './seika-patcher.ts';
import { createStatsServer } from './stats-server.ts';

export interface ControllerDeps {
  logger?: Logger;
  registry?: Registry;
  clock?: Clock;
  /** Reconcile period (default 1000 ms, the proxies' report interval). */
  tickMs?: number;
}

export interface RunningController {
  /** Base URL of the stats endpoint (proxies post to `${statsUrl}/v1/stats`); also the Lease identity. */
  statsUrl: string;
  adminUrl: string;
  isLeader(): boolean;
  close(): Promise<void>;
}

export async function startController(config: ControllerConfig, deps: ControllerDeps = {}): Promise<RunningController> {
  const logger = deps.logger ?? createLogger({ node: 'controller', level: config.logLevel });
  const clock = deps.clock ?? systemClock;
  const metrics = createControllerMetrics(deps.registry ?? new Registry());
  const kubeConfig = new KubeConfig();
  try {
    if (config.kubeconfig) kubeConfig.loadFromFile(config.kubeconfig);
    else kubeConfig.loadFromCluster();
  } catch (err) {
    throw new Error(`--kubeconfig ${config.kubeconfig ?? '(in-cluster)'}: ${(err as Error).message}`);
  }

  const store = new DemandStore();
  const watcher = new RevisionWatcher({ kubeConfig, logger });
  const forwarder = new ReportForwarder({ token: config.statsToken, logger });
  let elector: LeaderElector | undefined;
  let loop: ReconcileLoop | undefined;

  const stats = createStatsServer({
    token: config.statsToken,
    logger,
    onReport(report, body, forwarded) {
      store.record(report, clock.now());
      if (report.poke) loop?.poke();
      const leaderUrl = elector?.leaderUrl();
      if (!forwarded && leaderUrl) forwarder.forward(leaderUrl, body);
    },
  });
  let closing = false;
  const admin = createAdminServer({ registry: metrics.registry, ready: () => !closing && watcher.synced() });
  const servers: Server[] = [];
  try {
    await listen(stats, config.listen.host, config.listen.port);
    servers.push(stats);
    await listen(admin, config.adminListen.host, config.adminListen.port);
    servers.push(admin);
  } catch (err) {
    await Promise.all(servers.map(closeServer));
    await forwarder.close();
    throw err;
  }
  const statsUrl = config.advertiseUrl ?? urlOf(stats);
  const adminUrl = urlOf(admin);

  elector = new LeaderElector({
    kubeConfig,
    namespace: config.leaseNamespace,
    name: config.leaseName,
    identity: statsUrl,
    leaseDurationMs: config.leaseDurationMs,
    logger,
    clock,
  });
  const patcher = new SeikaPatcher({ kubeConfig, metrics, logger });
  loop = new ReconcileLoop({
    targets: () => watcher.targets(),
    clusterNodes: () => watcher.nodes(),
    store,
    patcher,
    isLeader: () => elector.isLeader(),
    defaults: { stableWindowMs: config.stableWindowMs, scaleToZeroGraceMs: config.scaleToZeroGraceMs },
    capPerNode: config.podCapPerNode,
    rttPrior: config.rtt,
    metrics,
    logger,
    clock,
    tickMs: deps.tickMs,
  });
  const synced = watcher.start().then(
    () => logger.info('controller_synced', { msg: `stats ${statsUrl}, admin ${adminUrl}` }),
    (err: Error) => {
      if (!closing) logger.error('controller_sync_failed', { msg: err.message });
    },
  );
  elector.start();
  loop.start();
  logger.info('controller_started', { msg: `stats ${statsUrl}, admin ${adminUrl}, lease ${config.leaseNamespace}/${config.leaseName}` });

  return {
    statsUrl,
    adminUrl,
    isLeader: () => elector.isLeader(),
    async close() {
      if (closing) return;
      closing = true;
      await loop.close();
      // Hand the Lease over first, so a follower leads within one retry period.
      await elector.close();
      await Promise.all([watcher.close(), ...servers.map(closeServer), forwarder.close()]);
      await synced;
      logger.info('controller_stopped');
    },
  };
}

async function listen(server: Server, host: string, port: number): Promise<void> {
  server.listen(port, host);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err))]);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * `http://host:port` of a bound server. An any-address bind is advertised with this machine's first
 * non-loopback IPv4 address (in a pod: the pod IP, which other instances can reach), else loopback.
 */
function urlOf(server: Server): string {
  const a = server.address() as AddressInfo;
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  const host = a.address === '0.0.0.0' || a.address === '::' ? (external ?? '127.0.0.1') : a.address;
  return `http://${host.includes(':') ? `[${host}]` : host}:${a.port}`;
}
