// One emulated node's control plane (DESIGN.md §4–§5): kubelet, the Seika controller's share for
// this node, and the EndpointSlice controller, in one object. It watches every Seika through the
// Kubernetes API with a client-node informer (restarted with backoff: client-node stops an
// informer for good on any non-410 error) and keeps `spec.repurika[node]` pods of each Seika
// running on this node as child processes on the node's pod range.
//
// Per Seika it publishes the revision's private EndpointSlice for this node (starting pods listed
// not ready so the owner proxy can probe them; ready once the readiness path answers), the Pod
// objects, and merge-patches only `status.repurika.<node>` plus the recomputed `nodes`/`ready`.
// Scale-down is graceful and announced first: the pod is marked terminating in the slice
// (ready false, serving true), and only once that write is in the API and the proxies had
// `preStopMs` to see it, the pod gets SIGTERM; it leaves the slice when its process has exited.
// Victims are chosen as a ReplicaSet would: pods not yet ready first, then the newest.

import { CoreV1Api, CustomObjectsApi, DiscoveryV1Api, KubeConfig, PatchStrategy, makeInformer, setHeaderOptions } from '@kubernetes/client-node';
import type { Informer, KubernetesObject, ObjectCache } from '@kubernetes/client-node';
import { Backoff } from '../../lib/backoff.ts';
import type { Logger } from '../../lib/log.ts';
import { mathRng, type Rng } from '../../lib/rng.ts';
import type { ClusterAddresses } from './addresses.ts';
import * as objects from './agent-objects.ts';
import type { SeikaLike } from './agent-objects.ts';
import { KeyedWriter } from './keyed-writer.ts';
import { PodProcess, type PodState } from './pod-process.ts';
import { PORTS } from './addresses.ts';
import { topologyDocument, type Topology } from './topology.ts';

export interface NodeAgentOptions {
  node: string;
  kubeconfigPath: string;
  addresses: ClusterAddresses;
  topology: Topology;
  logger: Logger;
  rng?: Rng;
  /** Announce-to-SIGTERM gap on scale-down (default 500 ms: watch events reach proxies in ms). */
  preStopMs?: number;
  /** SIGTERM-to-SIGKILL on scale-down (default 30 s, Kubernetes' terminationGracePeriodSeconds). */
  terminationGraceMs?: number;
  /** Where pods' JSON log lines go (default ignore), or an open file descriptor they append to. */
  podStdout?: 'inherit' | 'ignore' | number;
  /** Kubelet readiness probe period of new pods (default PodProcess's 50 ms). */
  podProbeIntervalMs?: number;
}

interface LocalPod {
  proc: PodProcess;
  seikaKey: string;
  namespace: string;
  revision: string;
  host: number;
  /** The Pod object to create (labels from the Seika's template); cleared once created. */
  podObject?: Record<string, unknown>;
}

const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const POD_NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789'; // Kubernetes' generateName alphabet
/** A pod that crashed is replaced after this pause, so a pod that can't start doesn't spin. */
const RESTART_DELAY_MS = 1000;

function statusCode(err: unknown): number | undefined {
  const c = (err as { code?: unknown }).code;
  return typeof c === 'number' ? c : undefined;
}

function keyOf(s: SeikaLike): string {
  return `${s.metadata?.namespace ?? 'default'}/${s.metadata?.name ?? ''}`;
}

export class NodeAgent {
  readonly node: string;
  readonly #opts: NodeAgentOptions;
  readonly #log: Logger;
  readonly #rng: Rng;
  readonly #core: CoreV1Api;
  readonly #custom: CustomObjectsApi;
  readonly #discovery: DiscoveryV1Api;
  readonly #informer: Informer<KubernetesObject> & ObjectCache<KubernetesObject>;
  readonly #writer: KeyedWriter;
  readonly #pods = new Map<string, LocalPod>();
  readonly #hostsInUse = new Set<number>();
  /** Slices this agent wrote, by `namespace/revision`, so a removed Seika's slice is deleted. */
  readonly #slices = new Map<string, { namespace: string; revision: string; service?: string }>();
  readonly #backoff = new Backoff();
  readonly #timers = new Set<NodeJS.Timeout>();
  #reconciling = false;
  #dirty = false;
  #closed = false;

  constructor(opts: NodeAgentOptions) {
    this.#opts = opts;
    this.node = opts.node;
    this.#log = opts.logger;
    this.#rng = opts.rng ?? mathRng;
    const kc = new KubeConfig();
    kc.loadFromFile(opts.kubeconfigPath);
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#custom = kc.makeApiClient(CustomObjectsApi);
    this.#discovery = kc.makeApiClient(DiscoveryV1Api);
    this.#writer = new KeyedWriter(opts.logger);
    const { SEIKA_GROUP: group, SEIKA_VERSION: version, SEIKA_PLURAL: plural } = objects;
    this.#informer = makeInformer(kc, `/apis/${group}/${version}/${plural}`, () =>
      this.#custom.listClusterCustomObject({ group, version, plural }),
    );
    for (const ev of ['add', 'update', 'delete'] as const) {
      this.#informer.on(ev, () => {
        this.#backoff.reset();
        this.#kick();
      });
    }
    this.#informer.on('error', (err) => {
      if (this.#closed) return;
      this.#log.warn('agent_watch_error', { msg: String((err as Error)?.message ?? err) });
      this.#after(this.#backoff.next(), () => void this.#startInformer());
    });
  }

  /** Publishes this node's peer endpoint and starts watching Seikas (retrying until the API answers). */
  async start(): Promise<void> {
    const me = this.#opts.addresses.node(this.node);
    void this.#writer.schedule('peer', () => this.#upsertSlice(objects.peerSlice(this.node, me.host, PORTS.relay)));
    await this.#startInformer();
  }

  async #startInformer(): Promise<void> {
    while (!this.#closed) {
      try {
        await this.#informer.start();
        this.#kick();
        return;
      } catch (err) {
        const wait = this.#backoff.next();
        this.#log.warn('agent_list_failed', { msg: `${(err as Error).message}; retrying in ${wait} ms` });
        await new Promise((r) => this.#after(wait, () => r(undefined)));
      }
    }
  }

  #after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      if (!this.#closed) fn();
    }, ms);
    this.#timers.add(t);
  }

  /** The pods this agent runs now (tests and the demo read it). */
  pods(): Array<objects.PodView & { seika: string; pid?: number }> {
    return [...this.#pods.values()].map((p) => ({
      name: p.proc.name,
      address: p.proc.address,
      port: p.proc.port,
      state: p.proc.state,
      seika: p.seikaKey,
      pid: p.proc.pid,
    }));
  }

  #kick(): void {
    if (this.#closed) return;
    if (this.#reconciling) {
      this.#dirty = true;
      return;
    }
    this.#reconciling = true;
    try {
      do {
        this.#dirty = false;
        this.#reconcile();
      } while (this.#dirty && !this.#closed);
    } finally {
      this.#reconciling = false;
    }
  }

  #reconcile(): void {
    const seikas = this.#informer.list() as SeikaLike[];
    const known = new Set<string>();
    for (const s of seikas) {
      const key = keyOf(s);
      known.add(key);
      const live = [...this.#pods.values()].filter((p) => p.seikaKey === key && (p.proc.state === 'starting' || p.proc.state === 'ready'));
      const want = objects.desiredOnNode(s, this.node);
      for (let i = live.length; i < want; i++) this.#createPod(s);
      if (live.length > want) {
        // Not-ready pods go first, then the newest (a ReplicaSet's ranking).
        live.sort((a, b) => Number(a.proc.state === 'ready') - Number(b.proc.state === 'ready') || b.proc.createdAt - a.proc.createdAt);
        for (const p of live.slice(0, live.length - want)) void this.#terminate(p);
      }
      const { revision, service } = objects.seikaRevision(s);
      const ns = s.metadata?.namespace ?? 'default';
      this.#slices.set(`${ns}/${revision}`, { namespace: ns, revision, ...(service ? { service } : {}) });
      void this.#publishSlice(ns, revision);
      this.#publishStatus(key);
    }
    for (const p of this.#pods.values()) {
      if (!known.has(p.seikaKey) && (p.proc.state === 'starting' || p.proc.state === 'ready')) void this.#terminate(p);
    }
    for (const [k, sl] of this.#slices) {
      const stillUsed = seikas.some((s) => (s.metadata?.namespace ?? 'default') === sl.namespace && objects.seikaRevision(s).revision === sl.revision);
      const hasPods = [...this.#pods.values()].some((p) => p.namespace === sl.namespace && p.revision === sl.revision);
      if (stillUsed || hasPods) continue;
      this.#slices.delete(k);
      const name = objects.revisionSliceName(sl.revision, this.node);
      void this.#writer.schedule(`slice:${k}`, () => this.#ignore404(this.#discovery.deleteNamespacedEndpointSlice({ name, namespace: sl.namespace })));
    }
  }

  #podName(seika: string): string {
    let suffix = '';
    for (let i = 0; i < 5; i++) suffix += POD_NAME_CHARS[Math.floor(this.#rng() * POD_NAME_CHARS.length)];
    return `${seika}-${this.node}-${suffix}`;
  }

  #createPod(s: SeikaLike): void {
    let host = 1;
    while (this.#hostsInUse.has(host)) host++;
    if (host > 254) {
      this.#log.error('agent_pod_range_full', { msg: `no free pod address on ${this.node}` });
      return;
    }
    const { revision, readinessPath } = objects.seikaRevision(s);
    const namespace = s.metadata?.namespace ?? 'default';
    const topo = this.#opts.topology;
    const name = this.#podName(s.metadata?.name ?? revision);
    this.#hostsInUse.add(host);
    const proc = new PodProcess({
      config: {
        name,
        node: this.node,
        host: this.#opts.addresses.podAddress(this.node, host),
        port: PORTS.pod,
        serviceTimeMs: topo.pod.serviceTimeMs,
        startupDelayMs: topo.pod.startupDelayMs,
        readinessPath: readinessPath ?? topo.demo.readinessPath,
        offset: this.#opts.addresses.offset,
        topology: topologyDocument(topo),
      },
      probeFrom: this.#opts.addresses.node(this.node).host,
      stdout: this.#opts.podStdout,
      probeIntervalMs: this.#opts.podProbeIntervalMs,
      onState: (_p, state) => this.#onPodState(pod, state),
    });
    const view = { name, address: proc.address, port: proc.port, state: proc.state };
    const pod: LocalPod = { proc, seikaKey: keyOf(s), namespace, revision, host, podObject: objects.podObject({ seika: s, node: this.node, pod: view }) };
    this.#pods.set(name, pod);
    this.#log.info('agent_pod_created', { namespace, revision, pod: name, msg: `${proc.address}:${proc.port}` });
    void this.#publishSlice(namespace, revision);
    this.#publishPod(pod);
  }

  #onPodState(pod: LocalPod, state: PodState): void {
    const name = pod.proc.name;
    this.#log.info(`agent_pod_${state}`, { namespace: pod.namespace, revision: pod.revision, pod: name });
    if (state === 'exited') {
      this.#pods.delete(name);
      this.#hostsInUse.delete(pod.host);
      // A pod that died on its own (not scaled down) is replaced, after a pause.
      this.#after(RESTART_DELAY_MS, () => this.#kick());
    }
    void this.#publishSlice(pod.namespace, pod.revision);
    this.#publishStatus(pod.seikaKey);
    this.#publishPod(pod);
  }

  async #terminate(pod: LocalPod): Promise<void> {
    pod.proc.markTerminating(); // → #onPodState publishes the slice with terminating=true
    await this.#publishSlice(pod.namespace, pod.revision);
    if (this.#closed) return;
    await new Promise((r) => this.#after(this.#opts.preStopMs ?? 500, () => r(undefined)));
    if (this.#closed) return;
    await pod.proc.stop(this.#opts.terminationGraceMs ?? 30_000);
  }

  #publishSlice(namespace: string, revision: string): Promise<void> {
    const key = `${namespace}/${revision}`;
    return this.#writer.schedule(`slice:${key}`, async () => {
      const pods = [...this.#pods.values()].filter((p) => p.namespace === namespace && p.revision === revision);
      const service = this.#slices.get(key)?.service;
      await this.#upsertSlice(
        objects.revisionSlice({
          namespace,
          revision,
          ...(service ? { service } : {}),
          node: this.node,
          port: PORTS.pod,
          pods: pods.map((p) => ({ name: p.proc.name, address: p.proc.address, port: p.proc.port, state: p.proc.state })),
        }),
      );
    });
  }

  async #upsertSlice(body: Record<string, unknown>): Promise<void> {
    const { name, namespace } = body.metadata as { name: string; namespace: string };
    try {
      await this.#discovery.replaceNamespacedEndpointSlice({ name, namespace, body: body as never });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      await this.#discovery.createNamespacedEndpointSlice({ namespace, body: body as never });
    }
  }

  #publishStatus(seikaKey: string): void {
    void this.#writer.schedule(`status:${seikaKey}`, async () => {
      const [namespace, name] = seikaKey.split('/') as [string, string];
      const s = this.#informer.get(name, namespace) as SeikaLike | undefined;
      if (!s) return;
      const ready = [...this.#pods.values()].filter((p) => p.seikaKey === seikaKey && p.proc.state === 'ready').length;
      const body = objects.seikaStatusPatch(s, this.node, ready);
      if (!body) return;
      const { SEIKA_GROUP: group, SEIKA_VERSION: version, SEIKA_PLURAL: plural } = objects;
      await this.#ignore404(this.#custom.patchNamespacedCustomObjectStatus({ group, version, plural, namespace, name, body }, MERGE_PATCH));
    });
  }

  /** Pod objects are for `kubectl get pods`; the slices are what the proxies read. */
  #publishPod(pod: LocalPod): void {
    const name = pod.proc.name;
    const namespace = pod.namespace;
    void this.#writer.schedule(`pod:${namespace}/${name}`, async () => {
      if (pod.proc.state === 'exited') {
        if (!pod.podObject) await this.#ignore404(this.#core.deleteNamespacedPod({ name, namespace }));
        return;
      }
      if (pod.podObject) {
        try {
          await this.#core.createNamespacedPod({ namespace, body: pod.podObject as never });
        } catch (err) {
          if (statusCode(err) !== 409) throw err;
        }
        delete pod.podObject;
      }
      const view = { name, address: pod.proc.address, port: pod.proc.port, state: pod.proc.state };
      await this.#core.patchNamespacedPodStatus({ name, namespace, body: { status: objects.podStatus(view) } }, MERGE_PATCH);
    });
  }

  async #ignore404(p: Promise<unknown>): Promise<void> {
    try {
      await p;
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
  }

  /** Stops watching and stops every pod (SIGTERM, SIGKILL after `graceMs`); leaves no process. */
  async close(graceMs = 5000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await this.#informer.stop();
    await Promise.all([...this.#pods.values()].map((p) => p.proc.stop(graceMs)));
    await this.#writer.close();
  }
}
