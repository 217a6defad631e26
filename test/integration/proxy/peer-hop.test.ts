import t from 'tap';
import { request } from 'undici';
import { startCountingPod } from '../../support/counting-pod.ts';
import { metricValue } from '../../support/metric-value.ts';
import { startProxyPair } from '../../support/proxy-pair.ts';
import { eventually, hello, helloRevision, HOST, startBackend, type TestProxy } from '../../support/proxy-harness.ts';

// Loopback range for this file: 127.0.33.x (node1 .1, node2 .2, pods .10+)
const ADDR = { node1: '127.0.33.1', node2: '127.0.33.2' };
const REV = { namespace: 'default', revision: 'hello-00001' };
const KNATIVE = { 'knative-serving-namespace': 'default', 'knative-serving-revision': 'hello-00001' };

async function metrics(p: TestProxy): Promise<string> {
  return (await request(p.adminUrl + '/metrics')).body.text();
}

t.test('a request for a node2-only pod passes node2\'s proxy; the client never sees Ikukantai-Load', async (t) => {
  const pod = await startCountingPod(t, '127.0.33.10', 'p2');
  const { node1, node2 } = await startProxyPair(t, ADDR, [
    helloRevision([{ address: pod.address, port: pod.port, node: 'node2' }], { containerConcurrency: 1 }),
  ]);
  for (let i = 0; i < 3; i++) {
    const r = await request(`${node1.url}/x${i}`, { headers: { host: HOST } });
    t.equal(r.statusCode, 200);
    t.equal(await r.body.text(), `hello from p2 /x${i}\n`);
    t.equal(r.headers['ikukantai-load'], undefined, 'the owner\'s load report is stripped by node1');
    t.equal(r.headers['x-pod'], 'p2');
  }
  const seen = pod.seen[0]!;
  // Appended once, by node1 (the client's address); node2 saw node1's address and did not append it.
  const xff = String(seen.headers['x-forwarded-for']).split(',').map((s) => s.trim());
  t.equal(xff.length, 1, `X-Forwarded-For has one entry: ${xff.join(', ')}`);
  t.not(xff[0], ADDR.node1, 'it is the client, not node1');
  t.equal(seen.headers['x-forwarded-proto'], 'http');
  t.equal(seen.headers['host'], HOST, 'Host kept across both hops');
  t.equal(seen.socket.remoteAddress, ADDR.node2, 'the pod was reached from node2, its owner');
  t.equal(seen.headers['ikukantai-pod'], undefined, 'peer-hop fields end at the owner');
  t.equal(seen.headers['ikukantai-origin-node'], undefined);

  const m1 = await metrics(node1);
  const m2 = await metrics(node2);
  t.equal(metricValue(m1, 'ikukantai_proxy_requests_total', { ...REV, code: '200', target_node: 'node2' }), 3, 'node1 counts them as served on node2');
  t.equal(metricValue(m2, 'ikukantai_proxy_requests_total', { ...REV, code: '200', target_node: 'node2' }), 3, 'node2 served all three as owner');
  t.equal(metricValue(m2, 'ikukantai_proxy_inflight_requests', REV), 0);
  // node1 has no local pod, so nothing it answered went through its own throttler.
  t.equal(metricValue(m1, 'ikukantai_proxy_inflight_requests', REV) ?? 0, 0);
});

t.test('the owner reports its load on a peer hop (a hand-made hop sees the header)', async (t) => {
  const pod = await startCountingPod(t, '127.0.33.11', 'p2');
  const { node2, peer2 } = await startProxyPair(t, ADDR, [
    helloRevision([{ address: pod.address, port: pod.port, node: 'node2' }], { containerConcurrency: 1 }),
  ]);
  const r = await request(node2.peerUrl + '/', {
    headers: { host: HOST, ...KNATIVE, 'ikukantai-origin-node': 'node1', 'ikukantai-pod': `${pod.address}:${pod.port}` },
  });
  t.equal(r.statusCode, 200);
  await r.body.text();
  t.equal(r.headers['ikukantai-load'], 'inflight=1;queued=0;cc=1', 'sampled while this request was in flight');
  t.ok(peer2.endsWith(`:${node2.proxy.peer.port}`));
});

t.test('a client\'s Ikukantai-* headers never reach node2 or its pod', async (t) => {
  const pod = await startCountingPod(t, '127.0.33.12', 'p2');
  const decoy = await startBackend(t, '127.0.33.13', hello('decoy'));
  const { node1 } = await startProxyPair(t, ADDR, [helloRevision([{ address: pod.address, port: pod.port, node: 'node2' }])]);
  const r = await request(node1.url + '/', {
    headers: {
      host: HOST,
      'ikukantai-pod': `${decoy.address}:${decoy.port}`,
      'ikukantai-origin-node': 'evil',
      'ikukantai-load': 'inflight=0;queued=0;cc=0',
      'ikukantai-secret': 'x',
    },
  });
  t.equal(r.statusCode, 200);
  t.equal(await r.body.text(), 'hello from p2 /\n');
  t.equal(decoy.seen.length, 0, 'the client could not pick an address');
  const h = pod.seen[0]!.headers;
  t.same(Object.keys(h).filter((k) => k.startsWith('ikukantai-')), [], 'no Ikukantai-* field reached the pod');
});

t.test('a hand-made peer hop can never reach an address that is not a local endpoint', async (t) => {
  const local = await startCountingPod(t, '127.0.33.14', 'local');
  const other = await startCountingPod(t, '127.0.33.15', 'other-rev');
  const secret = await startBackend(t, '127.0.33.16', hello('secret'));
  const { node2 } = await startProxyPair(t, ADDR, [
    helloRevision([{ address: local.address, port: local.port, node: 'node2' }]),
    // Another revision with a pod on node2, and one with pods only elsewhere.
    { namespace: 'default', name: 'other-00001', endpoints: [{ address: other.address, port: other.port, node: 'node2' }] },
    { namespace: 'default', name: 'remote-00001', endpoints: [{ address: '127.0.33.17', port: 9, node: 'node1' }] },
  ]);
  const hop = (pod: string, rev = 'hello-00001') =>
    request(node2.peerUrl + '/hop', {
      headers: { 'knative-serving-namespace': 'default', 'knative-serving-revision': rev, 'ikukantai-origin-node': 'node1', 'ikukantai-pod': pod },
    });

  const toSecret = await hop(`${secret.address}:${secret.port}`);
  t.equal(toSecret.statusCode, 200, 'an unknown address is served by a real local pod instead');
  t.equal(await toSecret.body.text(), 'hello from local /hop\n');

  const loopback = await hop(`127.0.0.1:${secret.port}`);
  t.equal(loopback.statusCode, 200);
  t.equal(await loopback.body.text(), 'hello from local /hop\n');

  const otherRev = await hop(`${other.address}:${other.port}`);
  t.equal(otherRev.statusCode, 200, 'a local pod of another revision is not this revision\'s endpoint');
  t.equal(await otherRev.body.text(), 'hello from local /hop\n');

  const noLocal = await hop(`${secret.address}:${secret.port}`, 'remote-00001');
  t.equal(noLocal.statusCode, 502, 'no local pod for that revision');
  t.equal(noLocal.headers['ikukantai-error'], 'upstream_unreachable');
  await noLocal.body.text();

  const garbage = await hop('not an address');
  t.equal(garbage.statusCode, 200);
  await garbage.body.text();

  t.equal(secret.seen.length, 0, 'the named server never saw a request');
  t.equal(other.count, 0, 'the other revision\'s pod never saw one either');
  t.equal(local.count, 4);
});

t.test('owner errors pass through node1 unchanged', async (t) => {
  const pod = await startCountingPod(t, '127.0.33.18', 'p2');
  pod.held = true;
  const { node1, node2 } = await startProxyPair(
    t,
    ADDR,
    [helloRevision([{ address: pod.address, port: pod.port, node: 'node2' }], { containerConcurrency: 1 })],
    { node2: { maxQueued: 1 } },
  );
  const send = () => request(node1.url + '/', { headers: { host: HOST } });
  const first = send();
  t.ok(await eventually(() => pod.count === 1));
  const second = send();
  t.ok(await eventually(() => node2.proxy.table.byName('default', 'hello-00001')!.throttler.queued === 1), 'queued at the owner');
  const third = await send();
  t.equal(third.statusCode, 503);
  t.equal(third.headers['ikukantai-error'], 'queue_full', 'the owner\'s error code reaches the client');
  t.equal(third.headers['retry-after'], '1');
  t.equal(await third.body.text(), 'revision queue is full, retry later\n');
  pod.releaseAll();
  for (const r of await Promise.all([first, second])) {
    t.equal(r.statusCode, 200);
    await r.body.text();
  }

  // The pod goes away: the owner retries once, then answers 502; node1 must not retry or rewrite it.
  pod.server.close();
  pod.server.closeAllConnections();
  const gone = await send();
  t.equal(gone.statusCode, 502);
  t.equal(gone.headers['ikukantai-error'], 'upstream_unreachable');
  t.equal(await gone.body.text(), 'upstream unreachable\n');

  const m1 = await metrics(node1);
  const m2 = await metrics(node2);
  t.equal(metricValue(m2, 'ikukantai_proxy_rejected_requests_total', { reason: 'queue_full' }), 1, 'made by node2');
  t.equal(metricValue(m2, 'ikukantai_proxy_rejected_requests_total', { reason: 'upstream_unreachable' }), 1);
  t.equal(metricValue(m1, 'ikukantai_proxy_rejected_requests_total', { reason: 'queue_full' }), undefined, 'not made by node1');
  t.equal(metricValue(m1, 'ikukantai_proxy_rejected_requests_total', { reason: 'upstream_unreachable' }), undefined);
  t.equal(metricValue(m1, 'ikukantai_proxy_requests_total', { ...REV, code: '502', target_node: 'node2' }), 1);
});

t.test('admin paths are not served on the peer port', async (t) => {
  const pod = await startCountingPod(t, '127.0.33.19', 'p2');
  const { node2 } = await startProxyPair(t, ADDR, [helloRevision([{ address: pod.address, port: pod.port, node: 'node2' }])]);
  for (const path of ['/metrics', '/readyz', '/healthz']) {
    const r = await request(node2.peerUrl + path);
    t.equal(r.statusCode, 404, path);
    t.equal(r.headers['ikukantai-error'], 'no_route');
    await r.body.text();
  }
});

t.test('a client that gives up while queued at the owner is never forwarded by it', async (t) => {
  const pod = await startCountingPod(t, '127.0.33.20', 'p2');
  pod.held = true;
  const { node1, node2 } = await startProxyPair(t, ADDR, [
    helloRevision([{ address: pod.address, port: pod.port, node: 'node2' }], { containerConcurrency: 1 }),
  ]);
  const first = request(node1.url + '/first', { headers: { host: HOST } });
  t.ok(await eventually(() => pod.count === 1));
  const quitter = new AbortController();
  const gone = request(node1.url + '/gone', { headers: { host: HOST }, signal: quitter.signal }).catch((err: Error) => err.name);
  const throttler = () => node2.proxy.table.byName('default', 'hello-00001')!.throttler;
  t.ok(await eventually(() => throttler().queued === 1), 'queued at node2');
  quitter.abort();
  t.equal(await gone, 'AbortError');
  t.ok(await eventually(() => throttler().queued === 0), 'node1 cut its hop and node2 dropped the waiter');
  pod.releaseAll();
  const r = await first;
  t.equal(r.statusCode, 200);
  await r.body.text();
  const after = await request(node1.url + '/after', { headers: { host: HOST } });
  t.equal(await after.body.text(), 'hello from p2 /after\n');
  t.same(pod.seen.map((s) => s.url), ['/first', '/after'], 'the abandoned request never reached the pod');
});
