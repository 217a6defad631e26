// The emulated edge cluster as one call (DESIGN.md §5), for `npm start`, the e2e tests and the
// benchmarks: the fake Kubernetes API (TLS, kubeconfig on disk), the demo objects, per node a
// delay relay, a node agent (kubelet + Seika + EndpointSlice controller, in this process; pods are
// child processes) and one real proxy process in Kubernetes mode, and optionally the real
// controller (or several replicas behind a Service relay, electing a leader). Everything binds
// 127.x addresses derived from `offset`, never 0.0.0.0.
//
// Start order follows the dependencies: API → objects → relays → agents (peer slices, pods) and
// proxies side by side (wait for /readyz) → controller → wait for the initial pods to be ready.
// close() runs it backwards within 10 s: proxies, controller and agents (pods) are signalled at
// once and SIGKILLed at their deadlines; then relays and the API close and the temp dir goes.

import { mkdtemp, rm, writeFile, mkdir, open, type FileHandle } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { parseListen } from '../../lib/cli.ts';
import { createLogger, type Logger } from '../../lib/log.ts';
import { clusterAddresses, type ClusterAddresses } from './addresses.ts';
import { revisionSliceName } from './agent-objects.ts';
import { DelayRelay } from './delay-relay.ts';
import { demoHost, demoObjects } from './demo-objects.ts';
import { PROXY_NODE_FLAGS } from '../../proxy/node-flags.ts';
import { startFakeApiServer, type FakeApiServer } from './fake-apiserver/server.ts';
import { ManagedProcess } from './managed-process.ts';
import { NodeAgent } from './node-agent.ts';
import { ServiceRelay } from './service-relay.ts';
import { PORTS } from './addresses.ts';
import { loadTopology, rttBetween, topologyDocument, type Topology } from './topology.ts';

export interface ClusterOptions {
  /** Added to the third octet of every address (0 = the documented layout). */
  offset?: number;
  /** Default: deploy/local/topology.yaml. */
  topology?: Topology;
  /** Start the real controller (DESIGN.md §4); the Seika then starts at zero pods. */
  withController?: boolean;
  /** Initial `spec.repurika` (default one pod per node without a controller, none with one). */
  repurika?: Record<string, number>;
  /** Extra flags for every proxy (e.g. `--balancer round-robin`). */
  proxyArgs?: readonly string[];
  /** Extra flags for the controller. */
  controllerArgs?: readonly string[];
  /** Controller replicas (default 1). With more, each gets its own address and a Service relay on
   * the controller address spreads the proxies' reports over them; they elect a leader on the
   * Lease and followers forward to it, as the two-replica Deployment does in a real cluster. */
  controllers?: number;
  /** Fake API port (default 6443). */
  apiPort?: number;
  /** Where the kubeconfig, topology, token and logs go (default a new temp dir, removed by close). */
  dir?: string;
  logger?: Logger;
  /** Pods append their JSON log lines to `logs/pods-<node>.log` (default: dropped). */
  podLogs?: boolean;
  /** The node agents' (kubelet's) readiness probe period (default 50 ms; a real kubelet's is at
   * least 1 s, which is what the cold-start bench uses so that the proxy's own probe decides). */
  podProbeIntervalMs?: number;
  /** Longest wait for proxies, controller and initial pods to be ready (default 60 s: a proxy boots
   * in about 1 s on an idle machine, but took 17 s on a shared 2-core one at load 20). */
  readyTimeoutMs?: number;
}

export interface ControllerReplica {
  statsUrl: string;
  adminUrl: string;
  process: ManagedProcess;
}

export interface ClusterNode {
  name: string;
  host: string;
  ingressUrl: string;
  adminUrl: string;
  metricsUrl: string;
  /** Where other proxies dial this node (its delay relay). */
  peerUrl: string;
}

export interface Cluster {
  nodes: ClusterNode[];
  kubeconfigPath: string;
  apiUrl: string;
  /** The Host header that reaches the demo revision. */
  host: string;
  dir: string;
  topology: Topology;
  addresses: ClusterAddresses;
  api: FakeApiServer;
  agents: NodeAgent[];
  /** What the proxies report to (with replicas: the Service), and the first replica's admin URL. */
  controller?: { statsUrl: string; adminUrl: string };
  /** Every controller replica, e.g. to kill the leader in a failover test. */
  controllerReplicas?: ControllerReplica[];
  /** PIDs of every child process (proxies, controller, pods) right now. */
  pids(): number[];
  close(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROXY_BIN = join(ROOT, 'proxy/bin.ts');
const CONTROLLER_BIN = join(ROOT, 'controller/bin.ts');
const DEFAULT_TOPOLOGY = fileURLToPath(new URL('./topology.yaml', import.meta.url));
/** close() budget (the issue asks for 10 s): proxies drain for 1 s, everything is killed by 7 s. */
const STOP_DEADLINE_MS = 7000;

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const topology = opts.topology ?? (await loadTopology(DEFAULT_TOPOLOGY));
  const offset = opts.offset ?? 0;
  const addresses = clusterAddresses(topology.nodes, offset);
  const log = opts.logger ?? createLogger({ node: 'cluster' });
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'ikukantai-cluster-')));
  await mkdir(join(dir, 'logs'), { recursive: true });
  const topologyFile = join(dir, 'topology.yaml');
  await writeFile(topologyFile, stringify(topologyDocument(topology)));
  const tokenFile = join(dir, 'stats-token');
  await writeFile(tokenFile, randomBytes(24).toString('base64url') + '\n', { mode: 0o600 });

  const relays: Array<DelayRelay | ServiceRelay> = [];
  const agents: NodeAgent[] = [];
  const podLogs: FileHandle[] = [];
  const children: ManagedProcess[] = [];
  const controllerReplicas: ControllerReplica[] = [];
  let api: FakeApiServer | undefined;
  let closing: Promise<void> | undefined;

  const close = (): Promise<void> =>
    (closing ??= (async () => {
      const stops = [
        ...children.map((c) => c.stop(STOP_DEADLINE_MS)),
        ...agents.map((a) => a.close(STOP_DEADLINE_MS - 2000)),
      ];
      await Promise.allSettled(stops);
      await Promise.allSettled(podLogs.map((f) => f.close()));
      await Promise.allSettled(relays.map((r) => r.close()));
      await api?.close();
      if (ownDir) await rm(dir, { recursive: true, force: true });
    })());

  try {
    api = await startFakeApiServer({
      host: addresses.api.host,
      port: opts.apiPort ?? PORTS.api,
      kubeconfigPath: join(dir, 'kubeconfig'),
      logger: log,
    });
    const repurika = opts.repurika ?? Object.fromEntries(topology.nodes.map((n) => [n, opts.withController ? 0 : 1]));
    for (const obj of demoObjects(topology, addresses, repurika)) api.apply(obj);

    for (const n of addresses.nodes) {
      const relay = new DelayRelay({
        listen: { host: n.host, port: PORTS.relay },
        target: { host: n.host, port: PORTS.peerListen },
        localAddress: n.host,
        oneWayDelayMs: (source) => rttBetween(topology, addresses.nodeOfAddress(source), n.name) / 2,
      });
      await relay.start();
      relays.push(relay);
    }

    for (const n of addresses.nodes) {
      // Every pod of the node appends to one file (O_APPEND keeps their short lines whole).
      const podLog = opts.podLogs ? await open(join(dir, 'logs', `pods-${n.name}.log`), 'a') : undefined;
      if (podLog) podLogs.push(podLog);
      agents.push(
        new NodeAgent({
          node: n.name,
          kubeconfigPath: api.kubeconfigPath,
          addresses,
          topology,
          logger: log,
          ...(podLog && { podStdout: podLog.fd }),
          ...(opts.podProbeIntervalMs !== undefined && { podProbeIntervalMs: opts.podProbeIntervalMs }),
        }),
      );
    }
    // Agents and proxies only meet through the API, so they start side by side.
    const agentsStarted = Promise.all(agents.map((a) => a.start()));

    const statsFlags = opts.withController ? ['--controller', `http://${addresses.controller.stats}`, '--stats-token-file', tokenFile] : [];
    for (const n of addresses.nodes) {
      children.push(
        new ManagedProcess({
          name: `proxy ${n.name}`,
          script: PROXY_BIN,
          nodeArgs: PROXY_NODE_FLAGS,
          logFile: join(dir, 'logs', `proxy-${n.name}.log`),
          args: [
            '--kubeconfig', api.kubeconfigPath,
            '--node-name', n.name,
            '--listen', n.ingress,
            '--peer-listen', n.peerListen,
            '--admin-listen', n.admin,
            '--node-address', n.host,
            '--rtt-file', topologyFile,
            '--drain-grace', '1s',
            ...statsFlags,
            ...(opts.proxyArgs ?? []),
          ],
        }),
      );
    }
    const readyMs = opts.readyTimeoutMs ?? 60_000;
    await Promise.all([agentsStarted, ...children.map((c, i) => c.waitReady(`http://${addresses.nodes[i]!.admin}/readyz`, readyMs))]);

    if (opts.withController) {
      if (!existsSync(CONTROLLER_BIN)) throw new Error('withController: controller/bin.ts does not exist yet');
      const count = opts.controllers ?? 1;
      const at = addresses.controllerReplicas(count);
      if (count > 1) {
        const service = new ServiceRelay({ listen: parseListen(addresses.controller.stats), targets: at.map((a) => parseListen(a.stats)) });
        await service.start();
        relays.push(service);
      }
      for (const [i, a] of at.entries()) {
        const child = new ManagedProcess({
          name: count === 1 ? 'controller' : `controller ${i}`,
          script: CONTROLLER_BIN,
          logFile: join(dir, 'logs', count === 1 ? 'controller.log' : `controller-${i}.log`),
          args: [
            '--kubeconfig', api.kubeconfigPath,
            '--listen', a.stats,
            '--admin-listen', a.admin,
            '--stats-token-file', tokenFile,
            '--rtt-file', topologyFile,
            ...(opts.controllerArgs ?? []),
          ],
        });
        children.push(child);
        controllerReplicas.push({ statsUrl: `http://${a.stats}`, adminUrl: `http://${a.admin}`, process: child });
      }
      await Promise.all(controllerReplicas.map((c) => c.process.waitReady(`${c.adminUrl}/readyz`, readyMs)));
    }

    await waitForPods(api, topology, repurika, readyMs);
    log.info('cluster_ready', { msg: `${topology.nodes.length} nodes, api ${api.url}, dir ${dir}` });
  } catch (err) {
    await close();
    throw err;
  }

  return {
    nodes: addresses.nodes.map((n) => ({
      name: n.name,
      host: n.host,
      ingressUrl: `http://${n.ingress}`,
      adminUrl: `http://${n.admin}`,
      metricsUrl: `http://${n.admin}/metrics`,
      peerUrl: `http://${n.relay}`,
    })),
    kubeconfigPath: api.kubeconfigPath,
    apiUrl: api.url,
    host: demoHost(topology),
    dir,
    topology,
    addresses,
    api,
    agents,
    ...(opts.withController
      ? {
          controller: { statsUrl: `http://${addresses.controller.stats}`, adminUrl: controllerReplicas[0]!.adminUrl },
          controllerReplicas,
        }
      : {}),
    pids: () => [
      ...children.filter((c) => c.running && c.pid !== undefined).map((c) => c.pid!),
      ...agents.flatMap((a) => a.pods().flatMap((p) => (p.pid !== undefined && p.state !== 'exited' ? [p.pid] : []))),
    ],
    close,
  };
}

/** Ready pods of the demo revision on `node`, as its EndpointSlice lists them. */
export function readyPods(api: FakeApiServer, topology: Topology, node: string): number {
  const { namespace, revision } = topology.demo;
  const slice = api.get({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', namespace, name: revisionSliceName(revision, node) }) as
    | { endpoints?: Array<{ conditions?: { ready?: boolean } }> }
    | undefined;
  return slice?.endpoints?.filter((e) => e.conditions?.ready).length ?? 0;
}

/** Waits until every node's slice lists as many ready pods as the Seika asked for at start. */
async function waitForPods(api: FakeApiServer, topology: Topology, repurika: Record<string, number>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing = topology.nodes.filter((node) => readyPods(api, topology, node) < (repurika[node] ?? 0));
    if (missing.length === 0) return;
    if (Date.now() > deadline) throw new Error(`pods not ready within ${timeoutMs} ms on ${missing.join(', ')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
