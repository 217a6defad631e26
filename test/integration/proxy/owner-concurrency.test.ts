import t from 'tap';
import { Agent, request } from 'undici';
import { startCountingPod } from '../../support/counting-pod.ts';
import { metricValue } from '../../support/metric-value.ts';
import { eventually, helloRevision, HOST, startTestProxy, type TestProxy } from '../../support/proxy-harness.ts';

// Loopback range for this file: 127.0.32.x
const H = '127.0.32.1';
const REV = { namespace: 'default', revision: 'hello-00001' };

async function gauge(p: TestProxy, name: string): Promise<number | undefined> {
  const text = await (await request(p.adminUrl + '/metrics')).body.text();
  return metricValue(text, name, REV);
}

/** A client with room for every concurrent request (undici's global one is shared across tests). */
function client(t: { teardown(fn: () => unknown): void }): Agent {
  const agent = new Agent({ connections: 200, pipelining: 1 });
  t.teardown(() => agent.close());
  return agent;
}

t.test('cc=1: no pod ever sees two requests at once under 50 concurrent clients', async (t) => {
  const a = await startCountingPod(t, '127.0.32.10', 'a');
  const b = await startCountingPod(t, '127.0.32.11', 'b');
  const p = await startTestProxy(t, H, {
    revisions: [
      helloRevision(
        [
          { address: a.address, port: a.port, node: 'node1' },
          { address: b.address, port: b.port, node: 'node1' },
        ],
        { containerConcurrency: 1 },
      ),
    ],
  });
  const dispatcher = client(t);
  for (let round = 0; round < 3; round++) {
    const all = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const r = await request(`${p.url}/r${round}-${i}`, { headers: { host: HOST }, dispatcher });
        return { status: r.statusCode, body: await r.body.text() };
      }),
    );
    t.same(new Set(all.map((r) => r.status)), new Set([200]), `round ${round}: all 50 answered 200`);
  }
  t.equal(a.count + b.count, 150, 'every request reached a pod exactly once');
  t.equal(a.maxInflight, 1, 'pod a never held two requests');
  t.equal(b.maxInflight, 1, 'pod b never held two requests');
  t.ok(a.count > 0 && b.count > 0, 'both pods served');
  t.equal(await gauge(p, 'ikukantai_proxy_queued_requests'), 0);
  t.equal(await gauge(p, 'ikukantai_proxy_inflight_requests'), 0);
});

t.test('cc=2: at most two per pod, and the slots are used', async (t) => {
  const a = await startCountingPod(t, '127.0.32.12', 'a', 5);
  const p = await startTestProxy(t, H, {
    revisions: [helloRevision([{ address: a.address, port: a.port, node: 'node1' }], { containerConcurrency: 2 })],
  });
  const dispatcher = client(t);
  const all = await Promise.all(
    Array.from({ length: 50 }, async () => {
      const r = await request(p.url + '/', { headers: { host: HOST }, dispatcher });
      await r.body.text();
      return r.statusCode;
    }),
  );
  t.same(new Set(all), new Set([200]));
  t.equal(a.maxInflight, 2);
  t.equal(a.count, 50);
});

t.test('queue overflow: 503 queue_full with Retry-After; every admitted request gets 200', async (t) => {
  const pod = await startCountingPod(t, '127.0.32.13', 'a');
  pod.held = true;
  const p = await startTestProxy(
    t,
    H,
    { revisions: [helloRevision([{ address: pod.address, port: pod.port, node: 'node1' }], { containerConcurrency: 1 })] },
    { maxQueued: 3 },
  );
  const dispatcher = client(t);
  const send = async (i: number) => {
    const r = await request(`${p.url}/${i}`, { headers: { host: HOST }, dispatcher });
    return { i, status: r.statusCode, headers: r.headers, body: await r.body.text() };
  };
  const admitted = [send(0)];
  t.ok(await eventually(() => pod.count === 1), 'the first request holds the only slot');
  for (let i = 1; i <= 3; i++) admitted.push(send(i));
  t.ok(await eventually(async () => (await gauge(p, 'ikukantai_proxy_queued_requests')) === 3), 'three wait in the queue');
  const rejected = await Promise.all([send(4), send(5)]);
  for (const r of rejected) {
    t.equal(r.status, 503, `request ${r.i} over the bound`);
    t.equal(r.headers['ikukantai-error'], 'queue_full');
    t.equal(r.headers['retry-after'], '1');
    t.equal(r.body, 'revision queue is full, retry later\n');
  }
  t.equal(pod.count, 1, 'nothing else reached the pod while it was busy');
  pod.releaseAll();
  const served = await Promise.all(admitted);
  for (const r of served) {
    t.equal(r.status, 200, `admitted request ${r.i} served`);
    t.equal(r.body, `hello from a /${r.i}\n`);
  }
  t.equal(pod.count, 4);
  t.equal(pod.maxInflight, 1);
  const text = await (await request(p.adminUrl + '/metrics')).body.text();
  t.equal(metricValue(text, 'ikukantai_proxy_rejected_requests_total', { reason: 'queue_full' }), 2);
  t.equal(metricValue(text, 'ikukantai_proxy_queued_requests', REV), 0);
  t.equal(metricValue(text, 'ikukantai_proxy_requests_total', { ...REV, code: '503' }), 2);
  t.equal(metricValue(text, 'ikukantai_proxy_requests_total', { ...REV, code: '200' }), 4);
});

t.test('a client that gives up while queued is never forwarded; the queued gauge returns to 0', async (t) => {
  const pod = await startCountingPod(t, '127.0.32.14', 'a');
  pod.held = true;
  const p = await startTestProxy(t, H, {
    revisions: [helloRevision([{ address: pod.address, port: pod.port, node: 'node1' }], { containerConcurrency: 1 })],
  });
  const dispatcher = client(t);
  const first = request(p.url + '/first', { headers: { host: HOST }, dispatcher });
  t.ok(await eventually(() => pod.count === 1));
  const quitters = Array.from({ length: 5 }, () => new AbortController());
  const queued = quitters.map((c, i) =>
    request(`${p.url}/quit${i}`, { headers: { host: HOST }, dispatcher, signal: c.signal }).then(
      () => 'answered',
      (err: Error) => err.name,
    ),
  );
  t.ok(await eventually(async () => (await gauge(p, 'ikukantai_proxy_queued_requests')) === 5), 'five queued');
  for (const c of quitters) c.abort();
  t.same(new Set(await Promise.all(queued)), new Set(['AbortError']));
  t.ok(await eventually(async () => (await gauge(p, 'ikukantai_proxy_queued_requests')) === 0), 'the queue emptied at once');
  t.equal(p.proxy.table.byName('default', 'hello-00001')!.throttler.queued, 0);
  pod.releaseAll();
  const r1 = await first;
  t.equal(r1.statusCode, 200);
  await r1.body.text();
  const after = await request(p.url + '/after', { headers: { host: HOST }, dispatcher });
  t.equal(after.statusCode, 200);
  t.equal(await after.body.text(), 'hello from a /after\n');
  t.equal(pod.count, 2, 'only /first and /after reached the pod');
  t.notOk(pod.seen.some((r) => r.url?.startsWith('/quit')), 'no abandoned request was forwarded');
  t.equal(await gauge(p, 'ikukantai_proxy_inflight_requests'), 0);
  // Answered requests only: the quitters are not counted as answered.
  const text = await (await request(p.adminUrl + '/metrics')).body.text();
  t.equal(metricValue(text, 'ikukantai_proxy_requests_total', { ...REV, code: '200' }), 2);
});

t.test('a client that leaves mid-request frees its slot at once and the pod connection is dropped', async (t) => {
  const pod = await startCountingPod(t, '127.0.32.15', 'a');
  pod.held = true;
  const p = await startTestProxy(t, H, {
    revisions: [helloRevision([{ address: pod.address, port: pod.port, node: 'node1' }], { containerConcurrency: 1 })],
  });
  const dispatcher = client(t);
  const quitter = new AbortController();
  const gone = request(p.url + '/gone', { headers: { host: HOST }, dispatcher, signal: quitter.signal }).catch((err: Error) => err.name);
  t.ok(await eventually(() => pod.count === 1), 'the request reached the pod');
  const waiting = request(p.url + '/next', { headers: { host: HOST }, dispatcher });
  t.ok(await eventually(async () => (await gauge(p, 'ikukantai_proxy_queued_requests')) === 1), 'the next one waits for the slot');
  quitter.abort();
  t.equal(await gone, 'AbortError');
  t.ok(await eventually(() => pod.inflight === 1 && pod.count === 2 && pod.seen[1]?.url === '/next'),
    'the abandoned request was cut at the pod and the slot went to the waiter');
  pod.releaseAll();
  const r = await waiting;
  t.equal(r.statusCode, 200);
  t.equal(await r.body.text(), 'hello from a /next\n');
  t.equal(pod.maxInflight, 1);
});

t.test('cc=1 holds when a pod leaves the endpoints file and comes back mid-request', async (t) => {
  const pod = await startCountingPod(t, '127.0.32.16', 'a');
  pod.held = true;
  const listed = helloRevision([{ address: pod.address, port: pod.port, node: 'node1' }], { containerConcurrency: 1 });
  const p = await startTestProxy(t, H, { revisions: [listed] });
  const dispatcher = client(t);
  const rt = () => p.proxy.table.byName('default', 'hello-00001')!;
  const first = request(p.url + '/first', { headers: { host: HOST }, dispatcher });
  t.ok(await eventually(() => pod.count === 1));
  p.file.write({ revisions: [{ ...listed, endpoints: [] }] });
  t.ok(await eventually(() => rt().endpoints.size === 0), 'the pod left');
  p.file.write({ revisions: [listed] });
  t.ok(await eventually(() => rt().candidates.length === 1), 'the pod is back');
  const second = request(p.url + '/second', { headers: { host: HOST }, dispatcher });
  t.ok(await eventually(async () => (await gauge(p, 'ikukantai_proxy_queued_requests')) === 1), 'the second request waits');
  t.equal(pod.count, 1, 'the pod still has only the first');
  pod.releaseAll();
  for (const r of await Promise.all([first, second])) {
    t.equal(r.statusCode, 200);
    await r.body.text();
  }
  t.equal(pod.maxInflight, 1);
});
