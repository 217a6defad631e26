// The edge bench's three-node cluster without Kubernetes: the emulator's topology (node1 ↔ node2
// 1 ms, either ↔ node3 50 ms), its demo pods as child processes (deploy/local/pod-app.ts, which
// delay their own answers by RTT/2 each way for the caller's node), and one set of three standalone
// proxies (proxy/bin.ts, static mode) per balancer, each proxy behind a DelayRelay on its peer port
// (peer hops pay RTT/2 each way by the dialling proxy's node). All sets run at once so the bench
// can interleave them in short slices: on a shared 2-core machine, noise then falls on every
// strategy alike instead of on whichever ran during someone else's build.
// Addresses: the emulator's layout at offset 40, inside the bench's 127.0.50.0–127.0.59.255:
// node k's proxies all use 127.0.50.k (the pods and relays tell nodes apart by source address, so
// the sets share it) on ports shifted by 100 per set: ingress 8012, relay 8014, peer listener
// 18014, admin 9090 for the first set, 8112, 8114, 18114, 9190 for the second, and so on; pods
// 127.0.(50+k).x:8080, shared by every set.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BalancerKind } from '../../proxy/balance/picker.ts';
import { clusterAddresses, PORTS, type ClusterAddresses } from '../../deploy/local/addresses.ts';
import { DelayRelay } from '../../deploy/local/delay-relay.ts';
import { PodProcess } from '../../deploy/local/pod-process.ts';
import { rttBetween, rttTable, topologyDocument, type Topology } from '../../deploy/local/topology.ts';
import type { Child, ChildSet } from '../support/children.ts';
import { REPO_ROOT } from '../support/peers.ts';
import { waitForHttp200 } from '../support/wait-ready.ts';

/** Third octet 10 + 40 = 50: the bench's own loopback range, clear of the demo (10) and tests. */
export const EDGE_OFFSET = 40;
const POD_READY_TIMEOUT_MS = 15_000;

export interface EdgePod {
  node: string;
  address: string;
  port: number;
}

export interface EdgeClusterOptions {
  topology: Topology;
  podsPerNode: number;
  children: ChildSet;
  /** Scratch directory for the endpoints file. */
  tmpDir: string;
}

export class EdgeCluster {
  readonly topology: Topology;
  readonly addresses: ClusterAddresses;
  readonly pods: EdgePod[] = [];
  readonly #opts: EdgeClusterOptions;
  readonly #podProcesses: PodProcess[] = [];
  readonly #relays: DelayRelay[] = [];
  readonly #proxies: Child[] = [];
  readonly #sets = new Map<BalancerKind, number>();

  constructor(opts: EdgeClusterOptions) {
    this.#opts = opts;
    this.topology = opts.topology;
    this.addresses = clusterAddresses(opts.topology.nodes, EDGE_OFFSET);
  }

  /** Pods, awaited until all pass their readiness probe. */
  async start(): Promise<void> {
    const t = this.topology;
    const ready: Promise<void>[] = [];
    for (const node of t.nodes) {
      for (let x = 1; x <= this.#opts.podsPerNode; x++) {
        const address = this.addresses.podAddress(node, x);
        this.pods.push({ node, address, port: PORTS.pod });
        ready.push(
          new Promise<void>((resolve, reject) => {
            const pod = new PodProcess({
              config: {
                name: `${t.demo.seika}-${node}-${x}`,
                node,
                host: address,
                port: PORTS.pod,
                serviceTimeMs: t.pod.serviceTimeMs,
                startupDelayMs: 0,
                readinessPath: t.demo.readinessPath,
                offset: EDGE_OFFSET,
                topology: topologyDocument(t),
              },
              probeFrom: this.addresses.node(node).host,
              onState: (p, state) => {
                if (state === 'ready') resolve();
                if (state === 'exited') reject(new Error(`pod ${p.name} exited before it was ready`));
              },
            });
            this.#podProcesses.push(pod);
          }),
        );
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`pods not ready within ${POD_READY_TIMEOUT_MS} ms`)), POD_READY_TIMEOUT_MS);
    });
    try {
      await Promise.race([Promise.all(ready), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ports of set `j`: the emulator's, shifted by 100 per set. */
  static #ports(j: number): { ingress: number; relay: number; peerListen: number; admin: number } {
    const d = 100 * j;
    return { ingress: PORTS.ingress + d, relay: PORTS.relay + d, peerListen: PORTS.peerListen + d, admin: PORTS.admin + d };
  }

  /** The static file of set `j` (DESIGN.md §3): peers are that set's relays, the RTT prior the topology's. */
  #endpointsFile(j: number): string {
    const t = this.topology;
    const ports = EdgeCluster.#ports(j);
    const file = join(this.#opts.tmpDir, `edge-endpoints-${j}.json`);
    const doc = {
      nodes: Object.fromEntries(this.addresses.nodes.map((n) => [n.name, { peer: `${n.host}:${ports.relay}` }])),
      rtt: rttTable(t),
      revisions: [
        {
          namespace: t.demo.namespace,
          name: t.demo.revision,
          hosts: [this.host],
          containerConcurrency: t.demo.containerConcurrency,
          endpoints: this.pods.map((p) => ({ address: p.address, port: p.port, node: p.node })),
        },
      ],
    };
    writeFileSync(file, JSON.stringify(doc, null, 2));
    return file;
  }

  get host(): string {
    const d = this.topology.demo;
    return `${d.service}.${d.namespace}.svc.cluster.local`;
  }

  /** One set of three proxies (and their relays) per balancer, each awaited until its /readyz is 200. */
  async startProxies(balancers: readonly BalancerKind[]): Promise<void> {
    const t = this.topology;
    // One set at a time: a dozen Node processes booting at once on a busy 2-core machine can take
    // longer than any sane readiness deadline.
    for (const balancer of balancers) {
      const waits: Promise<void>[] = [];
      const j = this.#sets.size;
      this.#sets.set(balancer, j);
      const ports = EdgeCluster.#ports(j);
      const file = this.#endpointsFile(j);
      for (const n of this.addresses.nodes) {
        const child = this.#opts.children.start({
          name: `proxy ${n.name} (${balancer})`,
          command: process.execPath,
          args: [
            join(REPO_ROOT, 'proxy/bin.ts'),
            ...['--endpoints', file, '--node-name', n.name, '--balancer', balancer, '--log-level', 'warn'],
            ...['--listen', `${n.host}:${ports.ingress}`, '--peer-listen', `${n.host}:${ports.peerListen}`],
            ...['--admin-listen', `${n.host}:${ports.admin}`, '--node-address', n.host, '--drain-grace', '0s'],
          ],
          cwd: REPO_ROOT,
        });
        this.#proxies.push(child);
        waits.push(waitForHttp200(`http://${n.host}:${ports.admin}/readyz`, child, 30_000));
        const relay = new DelayRelay({
          listen: { host: n.host, port: ports.relay },
          target: { host: n.host, port: ports.peerListen },
          localAddress: n.host,
          oneWayDelayMs: (source) => rttBetween(t, this.addresses.nodeOfAddress(source), n.name) / 2,
        });
        this.#relays.push(relay);
        await relay.start();
      }
      await Promise.all(waits);
    }
  }

  ingressUrl(node: string, balancer: BalancerKind): string {
    const j = this.#sets.get(balancer);
    if (j === undefined) throw new Error(`no proxies for ${balancer}`);
    return `http://${this.addresses.node(node).host}:${EdgeCluster.#ports(j).ingress}/`;
  }

  /** The first pod on `node`: the oracle's target. */
  localPod(node: string): EdgePod {
    const pod = this.pods.find((p) => p.node === node);
    if (!pod) throw new Error(`no pod on ${node}`);
    return pod;
  }

  async close(): Promise<void> {
    await Promise.all(this.#proxies.map((c) => c.stop()));
    await Promise.all(this.#relays.map((r) => r.close()));
    await Promise.all(this.#podProcesses.map((p) => p.stop(2000)));
  }
}
