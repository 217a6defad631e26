// The Kubernetes objects a node agent writes, as pure functions of what it knows, so their shape is
// checked by table tests and the agent only decides *when* to write:
// - the revision's private EndpointSlice for one node (DESIGN.md §3: label
//   `networking.internal.knative.dev/serviceType=Private`, `serving.knative.dev/revision`, port
//   `http`, `nodeName`, ready/serving/terminating as Kubernetes sets them);
// - the peer Service's slice for one node (`ikukantai-system/ikukantai-proxy`, port `peer`);
// - the Pod object, so `kubectl get pods -o wide` shows the emulated pods;
// - the Seika status merge patch (DESIGN.md §4): `status.repurika.<node>` for this node only, and
//   `nodes`/`ready` recomputed from the whole object, so whichever agent writes last converges.

import type { PodState } from './pod-process.ts';

export const SEIKA_GROUP = 'batch.bonavadeur.io';
export const SEIKA_VERSION = 'v1';
export const SEIKA_PLURAL = 'seikas';
export const SEIKA_HOSTNAME_LABEL = 'bonavadeur.io/seika-hostname';
export const REVISION_LABEL = 'serving.knative.dev/revision';
export const SERVICE_LABEL = 'serving.knative.dev/service';
export const PRIVATE_LABEL = 'networking.internal.knative.dev/serviceType';
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const MANAGED_BY = 'node-agent.ikukantai.local';
export const PEER_NAMESPACE = 'ikukantai-system';
export const PEER_SERVICE = 'ikukantai-proxy';

export interface SeikaLike {
  metadata?: { name?: string; namespace?: string; uid?: string };
  spec?: {
    repurika?: Record<string, number>;
    template?: {
      metadata?: { labels?: Record<string, string> };
      spec?: { containers?: Array<{ readinessProbe?: { httpGet?: { path?: string } } }> };
    };
  };
  status?: { repurika?: Record<string, number>; nodes?: string[]; ready?: string };
}

/** What the agent keeps per pod; enough to write slices and Pod objects. */
export interface PodView {
  name: string;
  address: string;
  port: number;
  state: PodState;
}

/** The Knative revision a Seika's pods serve: the template's revision label, else the Seika's name. */
export function seikaRevision(s: SeikaLike): { revision: string; service?: string; readinessPath?: string } {
  const labels = s.spec?.template?.metadata?.labels ?? {};
  const path = s.spec?.template?.spec?.containers?.[0]?.readinessProbe?.httpGet?.path;
  return {
    revision: labels[REVISION_LABEL] ?? s.metadata?.name ?? '',
    ...(labels[SERVICE_LABEL] ? { service: labels[SERVICE_LABEL] } : {}),
    ...(path ? { readinessPath: path } : {}),
  };
}

/** Pods this node should run for a Seika: `spec.repurika[node]`, an absent key being 0. */
export function desiredOnNode(s: SeikaLike, node: string): number {
  const n = s.spec?.repurika?.[node];
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : 0;
}

export function revisionSliceName(revision: string, node: string): string {
  return `${revision}-private-${node}`;
}

/**
 * Conditions as the EndpointSlice controller sets them: a starting pod is listed not ready (so the
 * owner proxy can probe it), a terminating one has ready=false but keeps serving=true while it
 * still runs, so its in-flight requests finish.
 */
export function endpointConditions(state: PodState): { ready: boolean; serving: boolean; terminating: boolean } {
  switch (state) {
    case 'starting':
      return { ready: false, serving: false, terminating: false };
    case 'ready':
      return { ready: true, serving: true, terminating: false };
    case 'terminating':
    case 'exited':
      return { ready: false, serving: true, terminating: true };
  }
}

export function revisionSlice(args: {
  namespace: string;
  revision: string;
  service?: string;
  node: string;
  pods: readonly PodView[];
  port: number;
}): Record<string, unknown> {
  const { namespace, revision, service, node, pods, port } = args;
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: revisionSliceName(revision, node),
      namespace,
      labels: {
        [SERVICE_NAME_LABEL]: `${revision}-private`,
        [PRIVATE_LABEL]: 'Private',
        [REVISION_LABEL]: revision,
        ...(service ? { [SERVICE_LABEL]: service } : {}),
        [MANAGED_BY_LABEL]: MANAGED_BY,
      },
    },
    addressType: 'IPv4',
    endpoints: [...pods]
      .filter((p) => p.state !== 'exited')
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((p) => ({
        addresses: [p.address],
        conditions: endpointConditions(p.state),
        nodeName: node,
        targetRef: { kind: 'Pod', namespace, name: p.name },
      })),
    ports: [{ name: 'http', port, protocol: 'TCP' }],
  };
}

export function peerSlice(node: string, address: string, port: number): Record<string, unknown> {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${PEER_SERVICE}-${node}`,
      namespace: PEER_NAMESPACE,
      labels: { [SERVICE_NAME_LABEL]: PEER_SERVICE, [MANAGED_BY_LABEL]: MANAGED_BY },
    },
    addressType: 'IPv4',
    endpoints: [{ addresses: [address], conditions: { ready: true, serving: true, terminating: false }, nodeName: node }],
    ports: [{ name: 'peer', port, protocol: 'TCP' }],
  };
}

export function podObject(args: {
  seika: SeikaLike;
  node: string;
  pod: PodView;
  image?: string;
}): Record<string, unknown> {
  const { seika, node, pod } = args;
  const namespace = seika.metadata?.namespace ?? 'default';
  const labels = { ...(seika.spec?.template?.metadata?.labels ?? {}), [SEIKA_HOSTNAME_LABEL]: node };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: pod.name,
      namespace,
      labels,
      ownerReferences: seika.metadata?.uid
        ? [{ apiVersion: `${SEIKA_GROUP}/${SEIKA_VERSION}`, kind: 'Seika', name: seika.metadata.name, uid: seika.metadata.uid, controller: true }]
        : [],
    },
    spec: {
      nodeName: node,
      containers: [{ name: 'user-container', image: args.image ?? 'ikukantai/pod-app', ports: [{ name: 'http', containerPort: pod.port }] }],
    },
    status: podStatus(pod),
  };
}

export function podStatus(pod: PodView): Record<string, unknown> {
  const ready = pod.state === 'ready';
  return {
    phase: pod.state === 'exited' ? 'Succeeded' : pod.state === 'starting' ? 'Pending' : 'Running',
    podIP: pod.address,
    podIPs: [{ ip: pod.address }],
    conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
  };
}

/** "r-r-r/d-d-d": ready counts then desired counts over the sorted node names. */
export function readySummary(nodes: readonly string[], ready: Record<string, number>, desired: Record<string, number>): string {
  return `${nodes.map((n) => ready[n] ?? 0).join('-')}/${nodes.map((n) => desired[n] ?? 0).join('-')}`;
}

/**
 * The merge patch for this node's view of a Seika's status, or undefined when the stored status
 * already says it. `nodes` is every node named in the spec or the status, sorted.
 */
export function seikaStatusPatch(s: SeikaLike, node: string, readyHere: number): Record<string, unknown> | undefined {
  const desired = s.spec?.repurika ?? {};
  const stored = s.status ?? {};
  const ready = { ...(stored.repurika ?? {}), [node]: readyHere };
  const nodes = [...new Set([...Object.keys(desired), ...Object.keys(ready)])].sort();
  const summary = readySummary(nodes, ready, desired);
  const same =
    stored.repurika?.[node] === readyHere &&
    stored.ready === summary &&
    JSON.stringify(stored.nodes ?? []) === JSON.stringify(nodes);
  return same ? undefined : { status: { repurika: { [node]: readyHere }, nodes, ready: summary } };
}
