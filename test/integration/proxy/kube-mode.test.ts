// The real proxy in Kubernetes mode (startProxy + createKubeSource) against the fake API server
// over HTTPS, with real backends: traffic keeps flowing, every request answered, while the API
// server goes away and comes back (and a change made meanwhile applies after its return); a pod
// marked terminating gets no new requests while its slow in-flight request completes.

import t, { type Test } from 'tap';
import { request } from 'undici';
import { startFakeApiServer, type FakeApiServer } from '../../../deploy/local/fake-apiserver/server.ts';
import { memoryLogger } from '../../../lib/log.ts';
import { createKubeSource } from '../../../proxy/endpoints/kube-source.ts';
import { startProxy } from '../../../proxy/main.ts';
import { hello, startBackend, type Backend } from '../../support/proxy-harness.ts';
import { until } from '../../support/until.ts';

// Loopback range for this file: 127.0.63.x
const PROXY = '127.0.63.1';
const HOST = 'hello.default.svc.cluster.local';

interface Pod {
  backend: Backend;
  ready?: boolean;
  terminating?: boolean;
}

// One slice per pod: the backends listen on different ports and a slice's ports apply to all of
// its endpoints (several slices of one Service are merged by the source).
function applySlice(api: FakeApiServer, pods: Pod[]): void {
  for (const p of pods) {
    api.apply({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `hello-00001-private-${p.backend.address.replaceAll('.', '-')}`,
        namespace: 'default',
        labels: { 'networking.internal.knative.dev/serviceType': 'Private', 'serving.knative.dev/revision': 'hello-00001' },
      },
      addressType: 'IPv4',
      endpoints: [
        {
          addresses: [p.backend.address],
          nodeName: 'node1',
          conditions: { ready: (p.ready ?? true) && !p.terminating, serving: p.ready ?? true, terminating: p.terminating ?? false },
        },
      ],
      ports: [{ name: 'http', port: p.backend.port }],
    });
  }
}

async function setup(t: Test, pods: Pod[]) {
  const api = await startFakeApiServer({ host: '127.0.0.1', port: 0 });
  t.teardown(() => api.close());
  api.apply({
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Revision',
    metadata: { name: 'hello-00001', namespace: 'default', labels: { 'serving.knative.dev/service': 'hello' } },
    spec: { containerConcurrency: 0, timeoutSeconds: 60, containers: [{ image: 'hello' }] },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  });
  applySlice(api, pods);
  const logger = memoryLogger('node1');
  const source = createKubeSource({
    kubeconfig: api.kubeconfigPath,
    nodeName: 'node1',
    upstreamPortName: 'http',
    peerService: 'ikukantai-system/ikukantai-proxy',
    logger,
  });
  const proxy = await startProxy({
    node: 'node1',
    source,
    listen: { host: PROXY, port: 0 },
    peerListen: { host: PROXY, port: 0 },
    adminListen: { host: PROXY, port: 0 },
    logger,
    drainGraceMs: 0,
  });
  t.teardown(() => proxy.close());
  const url = `http://${PROXY}:${proxy.ingress.port}`;
  const get = async (path: string): Promise<{ status: number; body: string }> => {
    const res = await request(url + path, { headers: { host: HOST } });
    return { status: res.statusCode, body: await res.body.text() };
  };
  const readyz = async (): Promise<number> => {
    const res = await request(`http://${PROXY}:${proxy.admin.port}/readyz`);
    await res.body.dump();
    return res.statusCode;
  };
  return { api, logger, get, readyz };
}

// A bounded load: `workers` clients in closed loops until stopped, at most `max` requests in all.
function load(get: (p: string) => Promise<{ status: number; body: string }>, workers = 4, max = 20_000) {
  const results: Array<{ status: number; body: string }> = [];
  let stop = false;
  const loops = Array.from({ length: workers }, async () => {
    while (!stop && results.length < max) results.push(await get('/'));
  });
  return {
    results,
    async stop() {
      stop = true;
      await Promise.all(loops);
    },
  };
}

t.test('API server stopped and restarted with traffic flowing: nothing lost, changes apply on return', async (t) => {
  const a = await startBackend(t, '127.0.63.2', hello('pod-a'));
  const b = await startBackend(t, '127.0.63.3', hello('pod-b'));
  const { api, logger, get, readyz } = await setup(t, [{ backend: a }]);
  const traffic = load(get);
  t.teardown(() => traffic.stop());
  await until('traffic flowing', () => traffic.results.length >= 20);

  await api.stop();
  await until('the proxy noticed the outage', () => logger.lines.some((l) => l.event === 'kube_informer_error'));
  const duringOutage = traffic.results.length;
  await until('traffic during the outage', () => traffic.results.length >= duringOutage + 50);
  t.equal(await readyz(), 200, 'still ready with the last good endpoints');
  // The world changes while the API is away; the proxy learns it once the API is back.
  applySlice(api, [{ backend: a }, { backend: b }]);
  await api.restart();
  await until('pod-b reached within 10 s of the API return', () => b.seen.length > 0, 10_000);
  await traffic.stop();

  const bad = traffic.results.filter((r) => r.status !== 200);
  t.same(bad, [], `every one of ${traffic.results.length} requests answered 200`);
  t.ok(traffic.results.every((r) => r.body === 'hello from pod-a\n' || r.body === 'hello from pod-b\n'));
  t.ok(a.seen.length > duringOutage, 'pod-a kept serving during the outage');
});

t.test('a terminating pod gets no new requests; its slow in-flight request completes', async (t) => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const a = await startBackend(t, '127.0.63.4', (req, res) => {
    req.resume();
    if (req.url === '/slow') {
      void released.then(() => res.end('slow done by pod-a\n'));
      return;
    }
    res.end('hello from pod-a\n');
  });
  const b = await startBackend(t, '127.0.63.5', hello('pod-b'));
  t.teardown(() => release());
  const { api, get } = await setup(t, [{ backend: a }]);

  const slow = get('/slow');
  await until('the slow request reached pod-a', () => a.seen.some((r) => r.url === '/slow'));
  applySlice(api, [
    { backend: a, terminating: true },
    { backend: b, ready: true },
  ]);
  await until('routing follows the slice change', async () => (await get('/')).body === 'hello from pod-b\n');
  const aBefore = a.seen.length;
  const after: string[] = [];
  for (let i = 0; i < 20; i++) after.push((await get('/')).body);
  t.same(new Set(after), new Set(['hello from pod-b\n']), 'new requests go only to the serving pod');
  t.equal(a.seen.length, aBefore, 'the terminating pod got nothing new');

  release();
  const done = await slow;
  t.same(done, { status: 200, body: 'slow done by pod-a\n' }, 'the in-flight request finished on the terminating pod');
});
