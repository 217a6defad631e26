// Shared pieces of the controller's integration tests: the fake API server with the demo's
// Revision and Seika, a controller config, report posting and polling.

import { KubeConfig } from '@kubernetes/client-node';
import { request } from 'undici';
import type { ControllerConfig } from '../../../controller/config.ts';
import type { StatsReport } from '../../../controller/stats-report.ts';
import { startFakeApiServer, type FakeApiServer } from '../../../deploy/local/fake-apiserver/server.ts';

export const TOKEN = 'controller-test-token';
export const NODES = ['node1', 'node2', 'node3'];
export const SEIKA_REF = { apiVersion: 'batch.bonavadeur.io/v1', kind: 'Seika', namespace: 'default', name: 'hello' };

export async function fakeCluster(opts: { nodes?: boolean; annotations?: Record<string, string> } = {}): Promise<FakeApiServer> {
  const api = await startFakeApiServer({ namespaces: ['default', 'ikukantai-system'] });
  api.apply({
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Revision',
    metadata: {
      name: 'hello-00001',
      namespace: 'default',
      labels: { 'serving.knative.dev/service': 'hello' },
      annotations: opts.annotations ?? {},
      creationTimestamp: '2026-11-26T12:00:00Z',
    },
    spec: { containerConcurrency: 0, timeoutSeconds: 300, containers: [{ image: 'hello' }] },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  });
  api.apply({
    apiVersion: 'batch.bonavadeur.io/v1',
    kind: 'Seika',
    metadata: { name: 'hello', namespace: 'default' },
    spec: { repurika: {}, selector: { matchLabels: { app: 'hello' } }, template: { metadata: { labels: { app: 'hello' } } } },
    status: { repurika: {}, nodes: [], ready: '/' },
  });
  if (opts.nodes) for (const name of NODES) api.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name } });
  return api;
}

export function configFor(api: FakeApiServer, over: Partial<ControllerConfig> = {}): ControllerConfig {
  return {
    kubeconfig: api.kubeconfigPath,
    listen: { host: '127.0.0.1', port: 0 },
    adminListen: { host: '127.0.0.1', port: 0 },
    statsToken: TOKEN,
    rtt: new Map(),
    stableWindowMs: 3000,
    scaleToZeroGraceMs: 1000,
    podCapPerNode: 10,
    leaseNamespace: 'ikukantai-system',
    leaseName: 'ikukantai-controller',
    leaseDurationMs: 1500,
    logLevel: 'warn',
    ...over,
  };
}

export function kubeConfigOf(api: FakeApiServer): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(api.kubeconfigPath);
  return kc;
}

export function report(node: string, concurrency: number | undefined, over: Partial<StatsReport> = {}): StatsReport {
  return {
    node,
    time: new Date().toISOString(),
    intervalSeconds: 1,
    poke: false,
    revisions: concurrency === undefined ? [] : [{ namespace: 'default', name: 'hello-00001', concurrency, requests: Math.ceil(concurrency), queued: 0 }],
    rtt: {},
    ...over,
  };
}

export async function post(statsUrl: string, body: StatsReport, token = TOKEN): Promise<number> {
  const res = await request(`${statsUrl}/v1/stats`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.body.dump();
  return res.statusCode;
}

export function seikaSpec(api: FakeApiServer): Record<string, number> {
  const s = api.get(SEIKA_REF) as { spec?: { repurika?: Record<string, number> } } | undefined;
  return s?.spec?.repurika ?? {};
}

export { until } from '../../support/until.ts';
