// The log lines the cold-start bench reads and the poke's bench knob (README "Running the proxy"):
// by default a cold request pokes the controller at once, long before the next stats tick, and the
// first waiter logs `cold_start_poke` ("poke sent", once per cold start); with `coldStartPoke:
// false` (the bench's Knative-like baseline) nothing is sent until the next tick, which carries the
// waiting request. Waiters that the endpoint source releases, rather than the readiness probe, log
// `cold_start_released`.

import t, { type Test } from 'tap';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { eventually, helloRevision, HOST, startTestProxy } from '../../support/proxy-harness.ts';

// Loopback range for this file: 127.0.59.x
const H = '127.0.59.1';
/** Nothing listens here: the revision stays cold and requests wait until they are aborted. */
const POD = { address: '127.0.59.2', port: 9, node: 'node1', ready: false };

interface Report {
  poke: boolean;
  revisions: Array<{ name: string; queued: number }>;
}

async function statsServer(t: Test): Promise<{ url: string; reports: Report[] }> {
  const reports: Report[] = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    reports.push(JSON.parse(body) as Report);
    res.writeHead(204).end();
  });
  server.listen(0, H);
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://${H}:${(server.address() as AddressInfo).port}`, reports };
}

/** Sends one cold request and returns its abort, for teardown. */
function coldRequest(url: string): AbortController {
  const ac = new AbortController();
  request(url + '/', { headers: { host: HOST }, signal: ac.signal }).catch(() => {});
  return ac;
}

t.test('a cold request pokes at once, logged once per cold start', async (t) => {
  const stats = await statsServer(t);
  // A tick a minute away: whatever arrives is the poke.
  const p = await startTestProxy(t, H, { revisions: [helloRevision([POD])] }, { controller: stats.url, statsToken: 'tok', statsIntervalMs: 60_000 });
  const acs = [1, 2, 3].map(() => coldRequest(p.url));
  t.teardown(() => acs.forEach((ac) => ac.abort()));
  t.ok(await eventually(() => p.proxy.table.byName('default', 'hello-00001')!.coldQueue.size === 3), 'three waiting');
  t.ok(await eventually(() => stats.reports.length > 0), 'a report arrived');
  t.match(stats.reports[0], { poke: true, revisions: [{ name: 'hello-00001' }] });
  t.match(
    p.logs.filter((l) => l['event'] === 'cold_start_poke'),
    [{ namespace: 'default', revision: 'hello-00001' }],
  );
});

t.test('with coldStartPoke false the controller hears of it at the next tick only', async (t) => {
  const stats = await statsServer(t);
  const p = await startTestProxy(
    t,
    H,
    { revisions: [helloRevision([POD])] },
    { controller: stats.url, statsToken: 'tok', statsIntervalMs: 100, coldStartPoke: false },
  );
  const ac = coldRequest(p.url);
  t.teardown(() => ac.abort());
  t.ok(await eventually(() => stats.reports.some((r) => r.revisions.some((x) => x.name === 'hello-00001' && x.queued === 1))), 'a tick carries the waiting request');
  t.equal(stats.reports.filter((r) => r.poke).length, 0, 'no poke');
  t.equal(p.logs.filter((l) => l['event'] === 'cold_start_poke').length, 0, 'no poke logged');
});

t.test('waiters released by the endpoint source log cold_start_released', async (t) => {
  const address = '127.0.59.3';
  // The pod listens but fails its readiness path, so only the file can make it ready.
  const pod = createServer((req, res) => {
    req.resume();
    if (req.url === '/healthz') res.writeHead(503).end();
    else res.end('hello\n');
  });
  pod.listen(0, address);
  await once(pod, 'listening');
  const port = (pod.address() as AddressInfo).port;
  t.teardown(() => new Promise<void>((r) => pod.close(() => r())));
  const endpoint = { address, port, node: 'node1' };
  const p = await startTestProxy(t, H, { revisions: [helloRevision([{ ...endpoint, ready: false }], { readinessPath: '/healthz' })] });
  const pending = request(p.url + '/', { headers: { host: HOST } });
  t.ok(await eventually(() => p.proxy.table.byName('default', 'hello-00001')!.coldQueue.size === 1), 'waiting');
  p.file.write({ revisions: [helloRevision([{ ...endpoint, ready: true }], { readinessPath: '/healthz' })] });
  const res = await pending;
  t.equal(await res.body.text(), 'hello\n');
  t.match(
    p.logs.filter((l) => l['event'] === 'cold_start_released'),
    [{ namespace: 'default', revision: 'hello-00001' }],
  );
  t.notOk(p.logs.some((l) => l['event'] === 'pod_probed_ready'), 'the probe never passed');
});
