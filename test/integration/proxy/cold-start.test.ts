import t from 'tap';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { eventually, hello, helloRevision, HOST, startBackend, startTestProxy } from '../../support/proxy-harness.ts';

// Loopback range for this file: 127.0.38.x
const H = '127.0.38.1';

/** A port that nothing listens on yet: bind, note it, close. */
async function freePort(address: string): Promise<number> {
  const s = createServer().listen(0, address);
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  s.close();
  await once(s, 'close');
  return port;
}

async function metricsText(adminUrl: string): Promise<string> {
  return (await request(adminUrl + '/metrics')).body.text();
}

t.test('a request waits for a pod that starts listening later, and the wait is observed once', async (t) => {
  const podAddr = '127.0.38.2';
  const port = await freePort(podAddr);
  const p = await startTestProxy(t, H, {
    revisions: [helloRevision([{ address: podAddr, port, node: 'node1', ready: false }], { readinessPath: '/healthz' })],
  });
  const pending = request(p.url + '/', { headers: { host: HOST } });
  // The request is waiting in the cold-start queue before the pod exists.
  t.ok(await eventually(() => p.proxy.table.byName('default', 'hello-00001')!.coldQueue.size === 1), 'queued while no pod is ready');
  const server = createServer((req, res) => {
    req.resume();
    res.end(req.url === '/healthz' ? 'ok' : 'hello from late pod\n');
  });
  server.listen(port, podAddr);
  await once(server, 'listening');
  t.teardown(() => server.close());
  const res = await pending;
  t.equal(res.statusCode, 200);
  t.equal(await res.body.text(), 'hello from late pod\n');
  const m = await metricsText(p.adminUrl);
  t.match(m, /ikukantai_proxy_cold_start_duration_seconds_count\{[^}]*revision="hello-00001"\} 1/);
  t.ok(p.logs.some((l) => l['event'] === 'pod_probed_ready'), 'the owner probed the pod ready before any file change');
});

t.test('never-ready revision: 504 cold_start_timeout at the limit, queue emptied each time', async (t) => {
  const p = await startTestProxy(
    t,
    H,
    { revisions: [helloRevision([{ address: '127.0.38.3', port: await freePort('127.0.38.3'), node: 'node1', ready: false }])] },
    { coldStartTimeoutMs: 300 },
  );
  const rt = () => p.proxy.table.byName('default', 'hello-00001')!;
  let heapAfterFirst = 0;
  for (let round = 0; round < 3; round++) {
    const all = await Promise.all(Array.from({ length: 50 }, () => request(p.url + '/', { headers: { host: HOST } })));
    for (const r of all) await r.body.text();
    t.same(new Set(all.map((r) => r.statusCode)), new Set([504]), `round ${round}: all 504`);
    t.equal(all[0]!.headers['ikukantai-error'], 'cold_start_timeout');
    t.equal(rt().coldQueue.size, 0, 'no waiter left behind');
    if (round === 0) heapAfterFirst = process.memoryUsage().heapUsed;
  }
  // 100 more timed-out waiters after the first round must not have grown the heap by megabytes.
  t.ok(process.memoryUsage().heapUsed - heapAfterFirst < 16 * 1024 * 1024, 'memory flat across rounds');
  t.match(await metricsText(p.adminUrl), /ikukantai_proxy_queued_requests\{[^}]*revision="hello-00001"[^}]*\} 0/);
  t.match(await metricsText(p.adminUrl), /ikukantai_proxy_rejected_requests_total\{reason="cold_start_timeout",node="node1"\} 150/);
});

t.test('the cold-start queue is bounded under a burst; admitted requests are all served', async (t) => {
  const podAddr = '127.0.38.4';
  const port = await freePort(podAddr);
  const p = await startTestProxy(t, H, { revisions: [helloRevision([{ address: podAddr, port, node: 'node1', ready: false }])] }, { maxQueued: 10 });
  const burst = Array.from({ length: 30 }, () => request(p.url + '/', { headers: { host: HOST } }));
  t.ok(await eventually(() => p.proxy.table.byName('default', 'hello-00001')!.coldQueue.size === 10), '10 waiting');
  // Start the pod only once every request of the burst has arrived (20 refused at the bound).
  t.ok(await eventually(async () => /reason="queue_full",node="node1"\} 20/.test(await metricsText(p.adminUrl))), '20 refused');
  const server = createServer(hello('late'));
  server.listen(port, podAddr);
  await once(server, 'listening');
  t.teardown(() => server.close());
  const results = await Promise.all(burst);
  const codes = await Promise.all(results.map(async (r) => (await r.body.text(), r.statusCode)));
  t.equal(codes.filter((c) => c === 200).length, 10, 'every admitted request answered');
  t.equal(codes.filter((c) => c === 503).length, 20, 'the rest refused at once');
  const refused = results.find((r) => r.statusCode === 503)!;
  t.equal(refused.headers['ikukantai-error'], 'queue_full');
  t.equal(refused.headers['retry-after'], '1');
});

interface StatsPost {
  auth: string | undefined;
  body: { node: string; poke: boolean; revisions: Array<{ namespace: string; name: string; concurrency: number; requests: number; queued: number }> };
}

async function statsServer(t: { teardown(fn: () => unknown): void }, address: string, port = 0): Promise<{ url: string; posts: StatsPost[]; close(): Promise<void> }> {
  const posts: StatsPost[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      posts.push({ auth: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString()) });
      res.writeHead(204).end();
    });
  });
  server.listen(port, address);
  await once(server, 'listening');
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  };
  t.teardown(() => (server.listening ? close() : undefined));
  return { url: `http://${address}:${(server.address() as AddressInfo).port}`, posts, close };
}

t.test('a cold request pokes the controller at once, before the next tick', async (t) => {
  const stats = await statsServer(t, '127.0.38.5');
  const p = await startTestProxy(
    t,
    H,
    { revisions: [helloRevision([{ address: '127.0.38.6', port: await freePort('127.0.38.6'), node: 'node1', ready: false }])] },
    // A tick far away: any report that arrives now can only be the poke.
    { controller: stats.url, statsToken: 'tok', statsIntervalMs: 3_600_000, coldStartTimeoutMs: 2000 },
  );
  const pending = request(p.url + '/', { headers: { host: HOST } });
  t.ok(await eventually(() => stats.posts.length > 0), 'a report arrived');
  const first = stats.posts[0]!;
  t.equal(first.auth, 'Bearer tok');
  t.equal(first.body.poke, true);
  t.equal(first.body.node, 'node1');
  t.same(first.body.revisions.map((r) => `${r.namespace}/${r.name}`), ['default/hello-00001']);
  t.equal(first.body.revisions[0]!.queued, 1);
  const res = await pending;
  t.equal(res.statusCode, 504);
  await res.body.text();
});

t.test('controller down: serving is unaffected, and reports resume when it returns', async (t) => {
  const statsAddr = '127.0.38.7';
  const statsPort = await freePort(statsAddr);
  const pod = await startBackend(t, '127.0.38.8', hello('pod'));
  const p = await startTestProxy(
    t,
    H,
    { revisions: [helloRevision([{ address: pod.address, port: pod.port, node: 'node1' }])] },
    { controller: `http://${statsAddr}:${statsPort}`, statsToken: 'tok', statsIntervalMs: 100 },
  );
  for (let i = 0; i < 20; i++) {
    const r = await request(p.url + '/', { headers: { host: HOST } });
    t.equal(r.statusCode, 200);
    await r.body.text();
  }
  t.ok(await eventually(() => p.logs.some((l) => l['event'] === 'stats_report_failed')), 'the outage is logged');
  const stats = await statsServer(t, statsAddr, statsPort);
  t.ok(await eventually(() => stats.posts.length > 0, 10_000), 'reports resume after the controller returns');
  for (let i = 0; i < 5; i++) await (await request(p.url + '/', { headers: { host: HOST } })).body.text();
  const hasDemand = () => stats.posts.some((s) => s.body.revisions.some((r) => r.requests > 0));
  t.ok(await eventually(hasDemand), 'demand reaches the controller again');
});

