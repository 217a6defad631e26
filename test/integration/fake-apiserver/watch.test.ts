// Watch semantics of the fake API server on the wire and through client-node's informer:
// resume from a version, initial events, bookmarks, timeoutSeconds, 410 Expired as an HTTP status
// and as an in-stream ERROR event, and the informer relisting on both without losing its cache.

import { DiscoveryV1Api, KubeConfig, makeInformer, type V1EndpointSlice } from '@kubernetes/client-node';
import t, { type Test } from 'tap';
import { Agent, request } from 'undici';
import { startFakeApiServer, type FakeApiServer, type FakeApiServerOptions } from '../../../deploy/local/fake-apiserver/server.ts';
import { until } from '../../support/until.ts';

const SLICES = '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices';

function slice(name: string, address = '127.0.61.1'): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'default', labels: { app: 'w' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [address], nodeName: 'node1' }],
    ports: [{ name: 'http', port: 8080 }],
  };
}

interface Event {
  type: string;
  object: { metadata?: { name?: string; resourceVersion?: string }; code?: number; reason?: string };
}

async function setup(t: Test, opts: FakeApiServerOptions = {}) {
  const api = await startFakeApiServer({ host: '127.0.0.1', port: 0, ...opts });
  const dispatcher = new Agent({ connect: { ca: api.caPem } });
  t.teardown(async () => {
    await api.close();
    await dispatcher.close();
  });
  /** Opens a watch; collects its events; `done` resolves when the server ends the stream. */
  const watch = async (query: string) => {
    const res = await request(`${api.url}${SLICES}?watch=true&${query}`, { dispatcher, headers: { authorization: `Bearer ${api.token}` } });
    const events: Event[] = [];
    let buf = '';
    res.body.setEncoding('utf8');
    res.body.on('data', (chunk: string) => {
      buf += chunk;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        events.push(JSON.parse(buf.slice(0, i)) as Event);
        buf = buf.slice(i + 1);
      }
    });
    const done = new Promise<void>((resolve) => res.body.on('end', resolve).on('error', () => resolve()));
    t.teardown(() => res.body.destroy());
    return { status: res.statusCode, events, done };
  };
  return { api, watch };
}

const names = (events: Event[]): string[] => events.map((e) => `${e.type} ${e.object.metadata?.name ?? e.object.code}`);

t.test('a watch resumes after a version, or starts with every object as ADDED', async (t) => {
  const { api, watch } = await setup(t);
  api.apply(slice('a'));
  const rv = api.store.resourceVersion;
  api.apply(slice('b'));
  api.apply(slice('a', '127.0.61.2'));
  const fromRv = await watch(`resourceVersion=${rv}`);
  const fromZero = await watch('resourceVersion=0&labelSelector=app%3Dw');
  await until('replay', () => fromRv.events.length === 2 && fromZero.events.length === 2);
  t.same(names(fromRv.events), ['ADDED b', 'MODIFIED a']);
  t.same(names(fromZero.events), ['ADDED a', 'ADDED b']);
  api.delete({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', namespace: 'default', name: 'b' });
  await until('live delete', () => fromRv.events.length === 3 && fromZero.events.length === 3);
  t.equal(fromRv.events[2]!.type, 'DELETED');
  t.equal(fromRv.events[2]!.object.metadata?.resourceVersion, api.store.resourceVersion, 'a delete has its own version');
});

t.test('bookmarks only when allowed, and timeoutSeconds ends the stream', async (t) => {
  const { api, watch } = await setup(t, { bookmarkIntervalMs: 50 });
  api.apply(slice('a'));
  const rv = api.store.resourceVersion;
  const withBookmarks = await watch(`resourceVersion=${rv}&allowWatchBookmarks=true`);
  const without = await watch(`resourceVersion=${rv}&timeoutSeconds=1`);
  await until('a bookmark', () => withBookmarks.events.some((e) => e.type === 'BOOKMARK'));
  const b = withBookmarks.events.find((e) => e.type === 'BOOKMARK')!;
  t.equal(b.object.metadata?.resourceVersion, rv, 'a bookmark carries the current version');
  await without.done;
  t.same(without.events, [], 'no bookmarks unless asked, stream ended after timeoutSeconds');
  t.equal(api.openWatches(), 1);
});

t.test('410 Expired for a compacted version: as HTTP status and as an in-stream ERROR', async (t) => {
  const { api, watch } = await setup(t, { goneAs: 'status' });
  api.apply(slice('a'));
  const old = api.store.resourceVersion;
  api.compact();
  const asStatus = await watch(`resourceVersion=${old}`);
  t.equal(asStatus.status, 410);
  api.goneAs = 'event';
  const asEvent = await watch(`resourceVersion=${old}`);
  await asEvent.done;
  t.equal(asEvent.status, 200);
  t.match(asEvent.events, [{ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } }]);
  const current = await watch(`resourceVersion=${api.store.resourceVersion}`);
  t.equal(current.status, 200, 'a version from after the compaction still watches');
  api.expireWatches();
  await current.done;
  t.match(current.events, [{ type: 'ERROR', object: { code: 410 } }], 'an open watch can be expired mid-stream');
});

t.test('history is bounded: a watch from before the retained events gets 410', async (t) => {
  const { api, watch } = await setup(t, { historyLimit: 3, goneAs: 'status' });
  api.apply(slice('a'));
  const old = api.store.resourceVersion;
  for (let i = 0; i < 4; i++) api.apply(slice('a', `127.0.61.${10 + i}`));
  t.equal((await watch(`resourceVersion=${old}`)).status, 410);
  const recent = await watch(`resourceVersion=${Number(api.store.resourceVersion) - 2}`);
  await until('replay', () => recent.events.length === 2);
  t.equal(recent.status, 200);
});

for (const goneAs of ['status', 'event'] as const) {
  t.test(`client-node's informer relists on 410 (${goneAs}) and keeps its cache`, async (t) => {
    const { api } = await setup(t, { goneAs });
    api.apply(slice('a'));
    api.apply(slice('b'));
    const kc = new KubeConfig();
    kc.loadFromFile(api.kubeconfigPath);
    const informer = makeInformer<V1EndpointSlice>(kc, SLICES, () => kc.makeApiClient(DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: 'default' }));
    const seen: string[] = [];
    informer.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
    informer.on('update', (o) => seen.push(`update ${o.metadata?.name}`));
    informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    informer.on('error', (err) => seen.push(`error ${String(err)}`));
    t.teardown(() => informer.stop());
    await informer.start();
    const lists = api.stats.lists;
    api.compact();
    if (goneAs === 'status') api.endWatches();
    else api.expireWatches();
    await until('relist', () => api.stats.lists === lists + 1 && api.openWatches() === 1);
    t.same(seen, ['add a', 'add b'], 'a relist of unchanged objects fires nothing');
    api.apply(slice('c'));
    await until('live again', () => seen.length === 3);
    t.same(seen, ['add a', 'add b', 'add c']);
    t.same(informer.list().map((o) => o.metadata?.name).sort(), ['a', 'b', 'c']);
  });
}
