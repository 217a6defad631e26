// The edge bench's three-node cluster without Kubernetes: the emulator's topology (node1 ↔ node2
// 1 ms, either ↔ node3 50 ms), its demo pods as child processes (deploy/local/pod-app.ts, which
// delay their own answers by RTT/2 each way for the caller's node), a DelayRelay in front of each
// proxy's peer listener (peer hops pay RTT/2 each way by the dialling proxy's node), and three
// standalone proxies (proxy/bin.ts, static mode) restarted per balancer so no estimate carries over
// from one strategy to the next. Pods and relays stay up for the whole run.
// Addresses: the emulator's layout at offset 40, inside the bench's 127.0.50.0–127.0.59.255:
// proxy of node k 127.0.50.k (:8012 ingress, :8014 relay, :18014 peer listener, :9090 admin),
// its pods 127.0.(50+k).x:8080.

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
  #proxies: Child[] = [];

  constructor(opts: EdgeClusterOptions) {
    this.#opts = opts;
    this.topology = opts.topology;
    this.addresses = clusterAddresses(opts.topology.nodes, EDGE_OFFSET);
  }

  /** Pods (until all pass their readiness probe) and relays. */
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
    for (const n of this.addresses.nodes) {
      const relay = new DelayRelay({
        listen: { host: n.host, port: PORTS.relay },
        target: { host: n.host, port: PORTS.peerListen },
        localAddress: n.host,
        oneWayDelayMs: (source) => rttBetween(t, this.addresses.nodeOfAddress(source), n.name) / 2,
      });
      await relay.start();
      this.#relays.push(relay);
    }
  }

  /** The static file every proxy reads (DESIGN.md §3): peers are the relays, the RTT prior the topology's. */
  #endpointsFile(): string {
    const t = this.topology;
    const file = join(this.#opts.tmpDir, 'edge-endpoints.json');
    const doc = {
      nodes: Object.fromEntries(this.addresses.nodes.map((n) => [n.name, { peer: n.relay }])),
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

  /** Three fresh proxy processes with this balancer, awaited until /readyz answers 200. */
  async startProxies(balancer: BalancerKind): Promise<void> {
    await this.stopProxies();
    const file = this.#endpointsFile();
    this.#proxies = this.addresses.nodes.map((n) =>
      this.#opts.children.start({
        name: `proxy ${n.name} (${balancer})`,
        command: process.execPath,
        args: [
          join(REPO_ROOT, 'proxy/bin.ts'),
          ...['--endpoints', file, '--node-name', n.name, '--balancer', balancer, '--log-level', 'warn'],
          ...['--listen', n.ingress, '--peer-listen', n.peerListen, '--admin-listen', n.admin],
          ...['--node-address', n.host, '--drain-grace', '0s'],
        ],
        cwd: REPO_ROOT,
      }),
    );
    await Promise.all(this.addresses.nodes.map((n, i) => waitForHttp200(`http://${n.admin}/readyz`, this.#proxies[i])));
  }

  async stopProxies(): Promise<void> {
    await Promise.all(this.#proxies.map((c) => c.stop()));
    this.#proxies = [];
  }

  ingressUrl(node: string): string {
    return `http://${this.addresses.node(node).ingress}/`;
  }

  /** The first pod on `node`: the oracle's target. */
  localPod(node: string): EdgePod {
    const pod = this.pods.find((p) => p.node === node);
    if (!pod) throw new Error(`no pod on ${node}`);
    return pod;
  }

  async close(): Promise<void> {
    await this.stopProxies();
    await Promise.all(this.#relays.map((r) => r.close()));
    await Promise.all(this.#podProcesses.map((p) => p.stop(2000)));
  }
}
