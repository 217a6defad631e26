// The Kubernetes endpoint source (DESIGN.md §3): three informers (revisions' private
// EndpointSlices, Revisions, the peer Service's EndpointSlices) whose caches slice-mapping turns
// into one Snapshot. start() resolves once all three have listed; after that every change yields a
// whole new Snapshot, coalesced so a burst (a relist touching hundreds of objects) costs one
// rebuild: at most one snapshot per `coalesceMs` (20 ms), the first change after a quiet spell
// delivered on the next turn of the event loop. Routing never waits on the API: during an outage
// the informers keep their last good caches and this source simply emits nothing new.

import {
  CustomObjectsApi,
  DiscoveryV1Api,
  KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1EndpointSlice,
} from '@kubernetes/client-node';
import { systemClock, type Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { EndpointSource, Snapshot } from '../../lib/model.ts';
import { RestartingInformer } from './informer.ts';
import { mapSnapshot, PRIVATE_SERVICE_LABEL, REVISION_LABEL, type RevisionLike } from './slice-mapping.ts';

export interface KubeSourceOptions {
  /** Kubeconfig file; in-cluster service-account config when absent. */
  kubeconfig?: string;
  nodeName: string;
  upstreamPortName: string;
  /** `namespace/name` of the Service whose EndpointSlices list the peer proxies. */
  peerService: string;
  logger: Logger;
  clock?: Clock;
  /** Shortest gap between two snapshots (default 20 ms). */
  coalesceMs?: number;
}

type RevisionObject = KubernetesObject & RevisionLike;

const PRIVATE_SLICES = `${PRIVATE_SERVICE_LABEL}=Private,${REVISION_LABEL}`;

export function createKubeSource(opts: KubeSourceOptions): EndpointSource {
  const { nodeName, upstreamPortName, logger, clock = systemClock, coalesceMs = 20 } = opts;
  const [peerNs, peerName, extra] = opts.peerService.split('/');
  if (!peerNs || !peerName || extra !== undefined) {
    throw new RangeError(`peer service must be "namespace/name", got "${opts.peerService}"`);
  }
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromCluster();
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);

  let onSnapshot: ((s: Snapshot) => void) | undefined;
  let synced = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let lastEmit = -Infinity;

  const build = (): Snapshot =>
    mapSnapshot({
      slices: slices.list(),
      revisions: revisions.list(),
      peerSlices: peers.list(),
      upstreamPortName,
    });

  const emit = (): void => {
    timer = undefined;
    if (closed) return;
    lastEmit = clock.now();
    onSnapshot?.(build());
  };

  const changed = (): void => {
    // Changes before the first full sync are part of it; one snapshot is sent when all have listed.
    if (!synced || closed || timer) return;
    timer = setTimeout(emit, Math.max(0, lastEmit + coalesceMs - clock.now()));
  };

  const slices = new RestartingInformer<V1EndpointSlice>({
    kubeConfig: kc,
    path: '/apis/discovery.k8s.io/v1/endpointslices',
    labelSelector: PRIVATE_SLICES,
    list: () => discovery.listEndpointSliceForAllNamespaces({ labelSelector: PRIVATE_SLICES }),
    name: 'endpointslices',
    logger,
    onChange: changed,
  });
  const revisions = new RestartingInformer<RevisionObject>({
    kubeConfig: kc,
    path: '/apis/serving.knative.dev/v1/revisions',
    list: () =>
      custom.listClusterCustomObject({ group: 'serving.knative.dev', version: 'v1', plural: 'revisions' }) as Promise<
        KubernetesListObject<RevisionObject>
      >,
    name: 'revisions',
    logger,
    onChange: changed,
  });
  const peerSelector = `kubernetes.io/service-name=${peerName}`;
  const peers = new RestartingInformer<V1EndpointSlice>({
    kubeConfig: kc,
    path: `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(peerNs)}/endpointslices`,
    labelSelector: peerSelector,
    list: () => discovery.listNamespacedEndpointSlice({ namespace: peerNs, labelSelector: peerSelector }),
    name: 'peer-endpointslices',
    logger,
    onChange: changed,
  });
  const informers = [slices, revisions, peers];

  return {
    async start(cb) {
      onSnapshot = cb;
      await Promise.all(informers.map((i) => i.start()));
      if (closed) return;
      synced = true;
      const snap = build();
      lastEmit = clock.now();
      const local = snap.revisions.reduce((n, r) => n + r.endpoints.filter((e) => e.node === nodeName).length, 0);
      logger.info('kube_source_synced', { msg: `${snap.revisions.length} revisions, ${local} local endpoints, ${snap.peers.size} peers` });
      cb(snap);
    },
    synced: () => synced,
    async close() {
      closed = true;
      clearTimeout(timer);
      await Promise.all(informers.map((i) => i.close()));
    },
  };
}
