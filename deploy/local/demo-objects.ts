// The Kubernetes objects the emulated cluster starts with (DESIGN.md §5): the nodes, the peer
// proxies' namespace and Service, and the demo app as Knative would leave it in the API — the
// Service `hello`, its Revision `hello-00001` (labels, containerConcurrency, timeoutSeconds,
// readiness path; Ready so it owns the host names) and the Seika `hello` that places its pods.

import type { ClusterAddresses } from './addresses.ts';
import { PEER_NAMESPACE, PEER_SERVICE, REVISION_LABEL, SERVICE_LABEL } from './agent-objects.ts';
import { PORTS } from './addresses.ts';
import type { Topology } from './topology.ts';

type KObject = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } };

const READY = { conditions: [{ type: 'Ready', status: 'True' }] };

export function demoObjects(topology: Topology, addresses: ClusterAddresses, repurika: Record<string, number>): KObject[] {
  const d = topology.demo;
  const labels = {
    [SERVICE_LABEL]: d.service,
    'serving.knative.dev/configuration': d.service,
    [REVISION_LABEL]: d.revision,
  };
  const container = {
    name: 'user-container',
    image: 'ikukantai/pod-app',
    ports: [{ name: 'http', containerPort: PORTS.pod }],
    readinessProbe: { httpGet: { path: d.readinessPath, port: PORTS.pod }, periodSeconds: 1 },
  };
  return [
    ...addresses.nodes.map(
      (n): KObject => ({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: n.name },
        status: { addresses: [{ type: 'InternalIP', address: n.host }], conditions: [{ type: 'Ready', status: 'True' }] },
      }),
    ),
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: PEER_NAMESPACE }, status: { phase: 'Active' } },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: PEER_SERVICE, namespace: PEER_NAMESPACE },
      spec: { clusterIP: 'None', ports: [{ name: 'peer', port: PORTS.relay }] },
    },
    {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Service',
      metadata: { name: d.service, namespace: d.namespace },
      spec: { template: { spec: { containerConcurrency: d.containerConcurrency, containers: [container] } } },
      status: { ...READY, latestReadyRevisionName: d.revision, url: `http://${d.service}.${d.namespace}.svc.cluster.local` },
    },
    {
      apiVersion: 'serving.knative.dev/v1',
      kind: 'Revision',
      metadata: { name: d.revision, namespace: d.namespace, labels },
      spec: { containerConcurrency: d.containerConcurrency, timeoutSeconds: d.timeoutSeconds, containers: [container] },
      status: READY,
    },
    {
      apiVersion: 'batch.bonavadeur.io/v1',
      kind: 'Seika',
      metadata: { name: d.seika, namespace: d.namespace },
      spec: {
        // Every node listed, zeros included, as the controller writes it (DESIGN.md §4).
        repurika: Object.fromEntries(topology.nodes.map((n) => [n, repurika[n] ?? 0])),
        selector: { matchLabels: { [REVISION_LABEL]: d.revision } },
        template: { metadata: { labels }, spec: { containers: [container] } },
      },
    },
  ];
}

/** The host name clients send to reach the demo (DESIGN.md §2 routing by Host). */
export function demoHost(topology: Topology): string {
  return `${topology.demo.service}.${topology.demo.namespace}.svc.cluster.local`;
}
