import t from 'tap';
import { connect } from 'node:net';
import { request } from 'undici';
import { startCountingPod } from '../../support/counting-pod.ts';
import { startEchoPod } from '../../support/echo-pod.ts';
import { metricValue } from '../../support/metric-value.ts';
import { startProxyPair } from '../../support/proxy-pair.ts';
import { startProxyProcess } from '../../support/proxy-process.ts';
import { EndpointsFile, eventually, helloRevision, HOST, startTestProxy } from '../../support/proxy-harness.ts';
import { connectWs } from '../../support/ws-client.ts';

// Loopback range for this file: 127.0.34.20–127.0.34.59 (drain.test.ts has .1–.19)
const H = '127.0.34.21';
const ADDR = { node1: '127.0.34.22', node2: '127.0.34.23' };

t.test('WebSocket echo through one proxy; the tunnel holds no concurrency slot', async (t) => {
  const pod = await startEchoPod(t, '127.0.34.30');
  const p = await startTestProxy(t, H, {
    revisions: [helloRevision([{ address: pod.address, port: pod.port, node: 'node1' }], { containerConcurrency: 1 })],
  });
  const c = await connectWs(t, `ws://${H}:${p.proxy.ingress.port}/chat?x=1`, { host: HOST, 'ikukantai-pod': '127.0.0.1:1' });
  for (let i = 0; i < 20; i++) t.equal(await c.roundTrip(`ping ${i}`), `ping ${i}`);
  const blob = Buffer.alloc(200_000, 7);
  t.same(await c.roundTrip(blob), blob, 'a 200 kB binary frame crosses intact');

  const up = pod.upgrades[0]!;
  t.equal(up.url, '/chat?x=1');
  t.equal(up.headers['host'], HOST);
  t.equal(up.headers['upgrade'], 'websocket');
  t.equal(up.headers['x-forwarded-for'], '127.0.0.1');
  t.equal(up.headers['ikukantai-pod'], undefined, 'client Ikukantai-* dropped on upgrades too');

  // cc=1 and a WebSocket open: ordinary requests still reach the pod.
  const plain = await request(p.url + '/', { headers: { host: HOST } });
  t.equal(plain.statusCode, 200);
  t.equal(await plain.body.text(), 'plain hello\n');

  await c.close();
  t.ok(await eventually(() => pod.open.size === 0), 'closing the client closes the pod side');
  const m = await (await request(p.adminUrl + '/metrics')).body.text();
  t.equal(metricValue(m, 'ikukantai_proxy_requests_total', { revision: 'hello-00001', code: '101', target_node: 'node1' }), 1);
});

t.test('a pod refusing the upgrade: its answer is relayed and the connection closed', async (t) => {
  const pod = await startEchoPod(t, '127.0.34.31');
  const p = await startTestProxy(t, H, { revisions: [helloRevision([{ address: pod.address, port: pod.port, node: 'node1' }])] });
  const text = await new Promise<string>((resolve, reject) => {
    const s = connect(p.proxy.ingress.port, H);
    let out = '';
    s.setEncoding('latin1').on('data', (d: string) => (out += d));
    s.on('close', () => resolve(out));
    s.on('error', reject);
    s.write(
      `GET /deny HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
  });
  t.match(text, /^HTTP\/1\.1 403 /);
  t.match(text, /denied\n$/);
  t.equal(pod.upgrades.length, 0);
});

t.test('WebSocket echo across two proxies (peer hop)', async (t) => {
  const pod = await startEchoPod(t, '127.0.34.32');
  const { node1 } = await startProxyPair(t, ADDR, [helloRevision([{ address: pod.address, port: pod.port, node: 'node2' }])]);
  const c = await connectWs(t, `ws://${ADDR.node1}:${node1.proxy.ingress.port}/room`, { host: HOST });
  for (let i = 0; i < 10; i++) t.equal(await c.roundTrip(`hop ${i}`), `hop ${i}`);
  const up = pod.upgrades[0]!;
  t.equal(up.socket.remoteAddress, ADDR.node2, 'the pod was reached from its owner proxy');
  t.equal(String(up.headers['x-forwarded-for']).split(',').length, 1, 'X-Forwarded-For appended once');
  t.same(Object.keys(up.headers).filter((k) => k.startsWith('ikukantai-')), [], 'peer-hop fields end at the owner');
  t.equal(up.headers['knative-serving-revision'], 'hello-00001', 'the owner passes on the revision node1 chose');
  await c.close();
  t.ok(await eventually(() => pod.open.size === 0));
});

t.test('an open WebSocket keeps echoing through a drain until the client closes; then exit 0', async (t) => {
  const pod = await startEchoPod(t, '127.0.34.33');
  const http = await startCountingPod(t, '127.0.34.34', 'http');
  const file = new EndpointsFile({
    revisions: [
      helloRevision([{ address: pod.address, port: pod.port, node: 'node1' }], { timeoutSeconds: 60 }),
      { namespace: 'default', name: 'plain-00001', hosts: ['plain.default.svc.cluster.local'], endpoints: [{ address: http.address, port: http.port, node: 'node1' }] },
    ],
  });
  const host = '127.0.34.35';
  const p = await startProxyProcess(t, host, file.path, ['--drain-grace', '300ms']);
  const c = await connectWs(t, `ws://${host}:${p.ingressPort}/live`, { host: HOST });
  t.equal(await c.roundTrip('before'), 'before');

  p.child.kill('SIGTERM');
  t.ok(await p.waitForEvent('drain_listeners_closed'), 'the grace passed and the listeners closed');
  for (let i = 0; i < 5; i++) t.equal(await c.roundTrip(`draining ${i}`), `draining ${i}`, 'still echoing after the grace');
  t.equal(p.child.exitCode, null, 'the process waits for the open WebSocket');
  const admin = await request(`http://${host}:${p.adminPort}/readyz`);
  t.equal(admin.statusCode, 503);
  await admin.body.text();

  await c.close();
  t.equal(await p.exited, 0, 'exit 0 once the WebSocket closed');
  t.ok(p.logs.some((l) => l['event'] === 'drain_finished' && l['msg'] === 'idle'), 'drained to idle, not cut at the deadline');
});

t.test('a hand-made WebSocket peer hop reaches a local endpoint only', async (t) => {
  const local = await startEchoPod(t, '127.0.34.36');
  const secret = await startEchoPod(t, '127.0.34.37');
  const { node2 } = await startProxyPair(t, ADDR, [helloRevision([{ address: local.address, port: local.port, node: 'node2' }])]);
  const c = await connectWs(t, `ws://${ADDR.node2}:${node2.proxy.peer.port}/hop`, {
    'knative-serving-namespace': 'default',
    'knative-serving-revision': 'hello-00001',
    'ikukantai-origin-node': 'node1',
    'ikukantai-pod': `${secret.address}:${secret.port}`,
  });
  t.equal(await c.roundTrip('where am I'), 'where am I');
  t.equal(local.upgrades.length, 1, 'served by the owner\'s own pod');
  t.equal(secret.upgrades.length + secret.seen.length, 0, 'the named address was never contacted');
  await c.close();
});

t.test('a WebSocket still open at the longest revision timeout is cut and the process exits 0', async (t) => {
  const pod = await startEchoPod(t, '127.0.34.38');
  const file = new EndpointsFile({
    revisions: [helloRevision([{ address: pod.address, port: pod.port, node: 'node1' }], { timeoutSeconds: 1 })],
  });
  const host = '127.0.34.39';
  const p = await startProxyProcess(t, host, file.path, ['--drain-grace', '100ms']);
  const c = await connectWs(t, `ws://${host}:${p.ingressPort}/forever`, { host: HOST });
  t.equal(await c.roundTrip('hi'), 'hi');
  const closed = new Promise<boolean>((resolve) => c.ws.once('close', () => resolve(true)));
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 0, 'exit 0 at the drain deadline');
  t.ok(await closed, 'the client saw its WebSocket end');
  t.ok(p.logs.some((l) => l['event'] === 'drain_finished' && l['msg'] === 'deadline'), 'cut at the deadline');
  t.ok(await eventually(() => pod.open.size === 0), 'the pod side closed too');
});
