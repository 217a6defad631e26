// The fake API server against the unmodified client-node 2.x: typed and custom-object APIs, merge
// patches (spec and the status subresource), 409 on a stale resourceVersion, 401 without the
// token, and an informer following adds, updates, deletes and label-selector moves.

import {
  CoordinationV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  KubeConfig,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type V1EndpointSlice,
} from '@kubernetes/client-node';
import t, { type Test } from 'tap';
import { Agent, request } from 'undici';
import { startFakeApiServer, type FakeApiServer } from '../../../deploy/local/fake-apiserver/server.ts';
import { until } from '../../support/until.ts';

async function setup(t: Test): Promise<{ api: FakeApiServer; kc: KubeConfig }> {
  const api = await startFakeApiServer({ host: '127.0.0.1', port: 0 });
  t.teardown(() => api.close());
  const kc = new KubeConfig();
  kc.loadFromFile(api.kubeconfigPath);
  return { api, kc };
}

function slice(name: string, labels: Record<string, string>, address: string): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'default', labels },
    addressType: 'IPv4',
    endpoints: [{ addresses: [address], nodeName: 'node1', conditions: { ready: true } }],
    ports: [{ name: 'http', port: 8080 }],
  };
}

const seika = {
  apiVersion: 'batch.bonavadeur.io/v1',
  kind: 'Seika',
  metadata: { name: 'hello', namespace: 'default' },
  spec: { repurika: { node1: 1 } },
  status: { ready: 'ignored on create' },
};

t.test('CustomObjectsApi: create, merge-patch spec and status, 409 on a stale version', async (t) => {
  const { kc } = await setup(t);
  const co = kc.makeApiClient(CustomObjectsApi);
  const ref = { group: 'batch.bonavadeur.io', version: 'v1', namespace: 'default', plural: 'seikas', name: 'hello' };
  const created = await co.createNamespacedCustomObject({ ...ref, body: seika });
  t.equal(created.metadata.generation, 1);
  t.equal(created.status, undefined, 'status is dropped on create (status subresource)');

  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const patched = await co.patchNamespacedCustomObject({ ...ref, body: { spec: { repurika: { node2: 2 } }, status: { ready: 'x' } } }, merge);
  t.same(patched.spec.repurika, { node1: 1, node2: 2 }, 'merge patch merges maps');
  t.equal(patched.status, undefined, 'a patch of the main resource leaves status alone');
  t.equal(patched.metadata.generation, 2, 'a spec change bumps generation');

  const st = await co.patchNamespacedCustomObjectStatus({ ...ref, body: { status: { ready: '1-0/1-2', nodes: ['node1', 'node2'] }, spec: { repurika: {} } } }, merge);
  t.same(st.status, { ready: '1-0/1-2', nodes: ['node1', 'node2'] });
  t.same(st.spec.repurika, { node1: 1, node2: 2 }, 'a status patch leaves spec alone');
  t.equal(st.metadata.generation, 2, 'status writes do not bump generation');

  const removed = await co.patchNamespacedCustomObject({ ...ref, body: { spec: { repurika: { node1: null } } } }, merge);
  t.same(removed.spec.repurika, { node2: 2 }, 'null deletes a key (RFC 7386)');

  const same = await co.patchNamespacedCustomObject({ ...ref, body: { spec: { repurika: { node2: 2 } } } }, merge);
  t.equal(same.metadata.resourceVersion, removed.metadata.resourceVersion, 'a no-op patch keeps the version');

  const jsonPatched = await co.patchNamespacedCustomObject({ ...ref, body: [{ op: 'replace', path: '/spec/repurika/node2', value: 3 }] });
  t.same(jsonPatched.spec.repurika, { node2: 3 }, 'client-node default patch type is JSON patch');

  const stale = { ...created, spec: { repurika: { node9: 9 } } };
  const err = await co.replaceNamespacedCustomObject({ ...ref, body: stale }).catch((e: unknown) => e);
  t.match(err, { code: 409 }, 'update with a stale resourceVersion is a conflict');
  t.match(JSON.parse((err as { body: string }).body), { kind: 'Status', reason: 'Conflict', code: 409 });

  const stalePatch = await co
    .patchNamespacedCustomObject({ ...ref, body: { metadata: { resourceVersion: created.metadata.resourceVersion }, spec: { a: 1 } } }, merge)
    .catch((e: unknown) => e);
  t.match(stalePatch, { code: 409 }, 'a patch carrying a stale resourceVersion is a conflict');

  const dup = await co.createNamespacedCustomObject({ ...ref, body: seika }).catch((e: unknown) => e);
  t.match(dup, { code: 409 }, 'create of an existing name is AlreadyExists');
  const missing = await co.getNamespacedCustomObject({ ...ref, name: 'nope' }).catch((e: unknown) => e);
  t.match(missing, { code: 404 });
  const noNs = await co.createNamespacedCustomObject({ ...ref, namespace: 'nowhere', body: seika }).catch((e: unknown) => e);
  t.match(noNs, { code: 404 }, 'create in a namespace that does not exist');
});

t.test('typed APIs: EndpointSlices with label selectors, Leases, list versions', async (t) => {
  const { kc } = await setup(t);
  const disc = kc.makeApiClient(DiscoveryV1Api);
  await disc.createNamespacedEndpointSlice({ namespace: 'default', body: slice('a', { app: 'a', tier: 'x' }, '127.0.60.1') });
  await disc.createNamespacedEndpointSlice({ namespace: 'default', body: slice('b', { app: 'b' }, '127.0.60.2') });
  const all = await disc.listEndpointSliceForAllNamespaces({});
  t.same(all.items.map((s) => s.metadata?.name), ['a', 'b']);
  t.match(all.metadata?.resourceVersion, /^\d+$/);
  const sel = async (labelSelector: string): Promise<string[]> =>
    (await disc.listNamespacedEndpointSlice({ namespace: 'default', labelSelector })).items.map((s) => s.metadata!.name!);
  t.same(await sel('app=a'), ['a']);
  t.same(await sel('app!=a'), ['b']);
  t.same(await sel('app in (a,b),!tier'), ['b']);
  t.same(await sel('tier'), ['a']);
  const paged = await disc.listNamespacedEndpointSlice({ namespace: 'default', limit: 1 });
  t.same(paged.items.map((s) => s.metadata?.name), ['a']);
  const rest = await disc.listNamespacedEndpointSlice({ namespace: 'default', limit: 1, _continue: paged.metadata!._continue });
  t.same(rest.items.map((s) => s.metadata?.name), ['b']);

  const leases = kc.makeApiClient(CoordinationV1Api);
  const lease = await leases.createNamespacedLease({
    namespace: 'kube-system',
    body: { metadata: { name: 'ctl' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: new Date() } },
  });
  lease.spec!.holderIdentity = 'b';
  const renewed = await leases.replaceNamespacedLease({ namespace: 'kube-system', name: 'ctl', body: lease });
  t.equal(renewed.spec?.holderIdentity, 'b');
  const race = await leases.replaceNamespacedLease({ namespace: 'kube-system', name: 'ctl', body: lease }).catch((e: unknown) => e);
  t.match(race, { code: 409 }, 'the second writer with the old version loses (leader election relies on it)');
});

t.test('401 without the token, discovery with it', async (t) => {
  const { api } = await setup(t);
  const dispatcher = new Agent({ connect: { ca: api.caPem } });
  t.teardown(() => dispatcher.close());
  const get = async (path: string, token?: string) => {
    const res = await request(api.url + path, { dispatcher, headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
  };
  const denied = await get('/api/v1/namespaces');
  t.equal(denied.status, 401);
  t.match(denied.body, { kind: 'Status', reason: 'Unauthorized', code: 401 });
  t.equal((await get('/api/v1/namespaces', 'wrong')).status, 401);
  t.equal((await get('/version')).status, 200, '/version is public, as in Kubernetes');
  t.match((await get('/api', api.token)).body, { kind: 'APIVersions', versions: ['v1'] });
  const groups = (await get('/apis', api.token)).body as { groups: Array<{ name: string }> };
  t.ok(['discovery.k8s.io', 'coordination.k8s.io', 'serving.knative.dev', 'batch.bonavadeur.io'].every((g) => groups.groups.some((x) => x.name === g)));
  const seikas = (await get('/apis/batch.bonavadeur.io/v1', api.token)).body as { resources: Array<{ name: string }> };
  t.same(seikas.resources.map((r) => r.name), ['seikas', 'seikas/status']);
  t.equal((await get('/apis/nope.example/v1/things', api.token)).status, 404);
});

t.test('an informer follows adds, updates, deletes and moves across its label selector', async (t) => {
  const { api, kc } = await setup(t);
  api.apply(slice('before', { app: 'a' }, '127.0.60.9'));
  const informer = makeInformer<V1EndpointSlice>(
    kc,
    '/apis/discovery.k8s.io/v1/endpointslices',
    () => kc.makeApiClient(DiscoveryV1Api).listEndpointSliceForAllNamespaces({ labelSelector: 'app=a' }),
    'app=a',
  );
  const seen: string[] = [];
  informer.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
  informer.on('update', (o) => seen.push(`update ${o.metadata?.name}`));
  informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
  t.teardown(() => informer.stop());
  await informer.start();
  t.same(seen, ['add before']);
  api.apply(slice('s1', { app: 'a' }, '127.0.60.1'));
  await until('add', () => seen.length === 2);
  api.apply(slice('s1', { app: 'a' }, '127.0.60.2'));
  await until('update', () => seen.length === 3);
  api.apply(slice('s1', { app: 'b' }, '127.0.60.2'));
  await until('moved out', () => seen.length === 4);
  api.apply(slice('s1', { app: 'a' }, '127.0.60.3'));
  await until('moved in', () => seen.length === 5);
  api.delete({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', namespace: 'default', name: 's1' });
  await until('delete', () => seen.length === 6);
  t.same(seen, ['add before', 'add s1', 'update s1', 'delete s1', 'add s1', 'delete s1']);
  t.same(informer.list().map((o) => o.metadata?.name), ['before']);
});
