import t from 'tap';
import { request } from 'undici';
import { rawRequest } from '../../support/raw-http.ts';
import { eventually, helloRevision, hello, HOST, startBackend, startTestProxy } from '../../support/proxy-harness.ts';

// Loopback range for this file: 127.0.31.x
const H = '127.0.31.1';

t.test('routes by Knative headers and by Host; probes are answered by the proxy', async (t) => {
  const pod = await startBackend(t, '127.0.31.2', hello('pod-a'));
  const p = await startTestProxy(t, H, { revisions: [helloRevision([{ address: pod.address, port: pod.port, node: 'node1' }])] });

  const byHost = await request(p.url + '/a', { headers: { host: `${HOST.toUpperCase()}:8012` } });
  t.equal(byHost.statusCode, 200);
  t.equal(await byHost.body.text(), 'hello from pod-a\n');

  const byKnative = await request(p.url + '/b', {
    headers: { host: 'anything.example', 'knative-serving-namespace': 'default', 'knative-serving-revision': 'hello-00001' },
  });
  t.equal(byKnative.statusCode, 200);
  await byKnative.body.text();

  const oneHeader = await request(p.url + '/c', { headers: { host: HOST, 'knative-serving-namespace': 'default' } });
  t.equal(oneHeader.statusCode, 400);
  t.equal(oneHeader.headers['ikukantai-error'], 'bad_request');
  await oneHeader.body.text();

  const badName = await request(p.url + '/c', { headers: { 'knative-serving-namespace': 'Default', 'knative-serving-revision': 'x' } });
  t.equal(badName.statusCode, 400);
  await badName.body.text();

  const unknown = await request(p.url + '/d', { headers: { host: 'nobody.example' } });
  t.equal(unknown.statusCode, 404);
  t.equal(unknown.headers['ikukantai-error'], 'no_route');
  t.equal(await unknown.body.text(), 'no revision matches this request\n');

  const seenBefore = pod.seen.length;
  const probe = await request(p.url + '/', { headers: { host: HOST, 'k-network-probe': 'queue', 'k-network-hash': 'h1' } });
  t.equal(probe.statusCode, 200);
  t.equal(probe.headers['k-network-hash'], 'h1');
  await probe.body.text();
  t.equal(pod.seen.length, seenBefore, 'the probe never reached the pod');

  const metrics = await (await request(p.adminUrl + '/metrics')).body.text();
  t.match(metrics, /ikukantai_proxy_requests_total\{namespace="default",revision="hello-00001",code="200",target_node="node1",node="node1"\} 2/);
  t.match(metrics, /ikukantai_proxy_rejected_requests_total\{reason="no_route",node="node1"\} 1/);
  t.notMatch(metrics, /ikukantai_proxy_requests_total\{namespace="",revision="",code="200"/, 'the probe is not counted as a request');
  t.match(metrics, /ikukantai_proxy_request_duration_seconds_count\{[^}]*revision="hello-00001",target_node="node1"\} 2/);
  t.ok(p.logs.some((l) => l['event'] === 'request_rejected' && l['code'] === 'no_route'), 'a JSON log line per error');
});

t.test('hop-by-hop headers are stripped both ways; X-Forwarded-* and Host handled', async (t) => {
  const pod = await startBackend(t, '127.0.31.3', (req, res) => {
    req.resume();
    res.writeHead(200, {
      connection: 'x-pod-hop, keep-alive',
      'x-pod-hop': 'secret',
      'keep-alive': 'timeout=5',
      'proxy-connection': 'keep-alive',
      'x-pod-end': 'kept',
    });
    res.end('ok');
  });
  const p = await startTestProxy(t, H, { revisions: [helloRevision([{ address: pod.address, port: pod.port, node: 'node1' }])] });
  // Raw bytes: client libraries (undici included) won't send a Connection header naming fields.
  const res = await rawRequest(H, p.proxy.ingress.port,
    `GET / HTTP/1.1\r\nHost: ${HOST}\r\nConnection: x-client-hop, close\r\nX-Client-Hop: drop me\r\n` +
      'Proxy-Connection: keep-alive\r\nTE: trailers\r\nX-Forwarded-For: 10.1.2.3\r\nIkukantai-Pod: 127.0.0.1:1\r\n' +
      'Ikukantai-Origin-Node: fake\r\nX-End: kept\r\n\r\n');
  t.equal(res.status, 200);
  const head = res.text.split('\r\n\r\n')[0]!.toLowerCase();
  t.notMatch(head, /x-pod-hop/, 'field named by the pod\'s Connection removed');
  t.notMatch(head, /proxy-connection/);
  t.notMatch(head, /keep-alive: timeout=5/);
  t.match(head, /x-pod-end: kept/);
  const seen = pod.seen[0]!;
  t.equal(seen.headers['x-client-hop'], undefined, 'field named by the client\'s Connection removed');
  t.equal(seen.headers['proxy-connection'], undefined);
  t.equal(seen.headers['te'], undefined);
  t.equal(seen.headers['ikukantai-pod'], undefined, 'client Ikukantai-* never reach a pod');
  t.equal(seen.headers['ikukantai-origin-node'], undefined);
  t.equal(seen.headers['x-end'], 'kept');
  t.equal(seen.headers['host'], HOST, 'Host kept');
  t.equal(seen.headers['x-forwarded-for'], '10.1.2.3, 127.0.0.1');
  t.equal(seen.headers['x-forwarded-proto'], 'http');
});

t.test('retry: once on another pod when safe; 502 when not', async (t) => {
  // A pod that is listed but refuses connections (nothing listens on its port).
  const dead = await startBackend(t, '127.0.31.4', hello('dead'));
  const deadPort = dead.port;
  dead.server.close();
  dead.server.closeAllConnections();
  const live = await startBackend(t, '127.0.31.5', hello('live'));
  const p = await startTestProxy(t, H, {
    revisions: [
      helloRevision([
        { address: '127.0.31.4', port: deadPort, node: 'node1' },
        { address: live.address, port: live.port, node: 'node1' },
      ]),
    ],
  }, { balancer: 'round-robin' });
  for (let i = 0; i < 4; i++) {
    const r = await request(p.url + '/', { method: 'POST', body: 'payload', headers: { host: HOST } });
    t.equal(r.statusCode, 200, `request ${i}: refused connection retried on the other pod`);
    t.equal(await r.body.text(), 'hello from live\n');
  }

  // A pod that resets after reading a POST body: not safe to resend, so 502.
  const resetter = await startBackend(t, '127.0.31.6', (req) => {
    req.on('data', () => req.socket.destroy());
  });
  p.file.write({ revisions: [helloRevision([{ address: resetter.address, port: resetter.port, node: 'node1' }])] });
  await waitForEndpoint(p, resetter.port);
  const posted = await request(p.url + '/', { method: 'POST', body: 'x'.repeat(1000), headers: { host: HOST } });
  t.equal(posted.statusCode, 502);
  t.equal(posted.headers['ikukantai-error'], 'upstream_unreachable');
  await posted.body.text();
  t.equal(resetter.seen.length, 1, 'the POST was not sent twice');

  // A GET without a body is idempotent: resent once on a fresh connection, then 502.
  const before = resetter.seen.length;
  const resetAll = await startBackend(t, '127.0.31.7', (req) => req.socket.destroy());
  p.file.write({ revisions: [helloRevision([{ address: resetAll.address, port: resetAll.port, node: 'node1' }])] });
  await waitForEndpoint(p, resetAll.port);
  const got = await request(p.url + '/', { headers: { host: HOST } });
  t.equal(got.statusCode, 502);
  await got.body.text();
  t.equal(resetAll.seen.length, 2, 'GET tried twice');
  t.equal(resetter.seen.length, before);
});

t.test('504 upstream_timeout at the revision timeout; the pod connection is dropped', async (t) => {
  let closed = 0;
  const slow = await startBackend(t, '127.0.31.8', (req) => {
    req.resume();
    req.socket.on('close', () => closed++);
  });
  const p = await startTestProxy(t, H, {
    revisions: [helloRevision([{ address: slow.address, port: slow.port, node: 'node1' }], { timeoutSeconds: 1 })],
  });
  const r = await request(p.url + '/', { headers: { host: HOST } });
  t.equal(r.statusCode, 504);
  t.equal(r.headers['ikukantai-error'], 'upstream_timeout');
  await r.body.text();
  t.ok(await eventually(() => closed === 1), 'the pod connection was destroyed');
});

async function waitForEndpoint(p: { proxy: { table: { byName(ns: string, n: string): { endpoints: Map<string, unknown> } | undefined } } }, port: number): Promise<void> {
  await eventually(() => [...(p.proxy.table.byName('default', 'hello-00001')?.endpoints.keys() ?? [])].some((k) => k.endsWith(`:${port}`)));
}

