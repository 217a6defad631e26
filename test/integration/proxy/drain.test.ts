import t from 'tap';
import { connect } from 'node:net';
import { once } from 'node:events';
import { Agent, request } from 'undici';
import { startCountingPod } from '../../support/counting-pod.ts';
import { metricValue } from '../../support/metric-value.ts';
import { startProxyProcess } from '../../support/proxy-process.ts';
import { EndpointsFile, eventually, helloRevision, HOST } from '../../support/proxy-harness.ts';

// Loopback range for this file: 127.0.34.1–127.0.34.19
const H = '127.0.34.1';

t.test('SIGTERM: /readyz 503 at once, in-flight and queued requests finish, late requests get 503 draining, exit 0', async (t) => {
  const pod = await startCountingPod(t, '127.0.34.10', 'a');
  const file = new EndpointsFile({
    revisions: [helloRevision([{ address: pod.address, port: pod.port, node: 'node1' }], { containerConcurrency: 1, timeoutSeconds: 30 })],
  });
  const p = await startProxyProcess(t, H, file.path, ['--drain-grace', '300ms']);
  const admin = `http://${H}:${p.adminPort}`;
  const ready = async (): Promise<number> => {
    const r = await request(admin + '/readyz');
    await r.body.text();
    return r.statusCode;
  };
  t.ok(await eventually(async () => (await ready()) === 200), 'ready before the signal');

  // A keep-alive socket that is idle when the grace ends: the drain closes it.
  const idle = connect(p.ingressPort, H);
  t.teardown(() => idle.destroy());
  let idleText = '';
  let idleClosed = false;
  idle.setEncoding('latin1').on('data', (c: string) => (idleText += c));
  idle.on('close', () => (idleClosed = true));
  idle.write(`GET /warm HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
  t.ok(await eventually(() => idleText.endsWith('\r\n0\r\n\r\n')), 'a first request completed on the idle socket');
  pod.held = true;

  // The slow in-flight request, on a keep-alive socket the test keeps open and writes to later.
  const socket = connect(p.ingressPort, H);
  await once(socket, 'connect');
  t.teardown(() => socket.destroy());
  let text = '';
  let socketClosed = false;
  socket.setEncoding('latin1').on('data', (c: string) => (text += c));
  socket.on('end', () => (socketClosed = true));
  socket.write(`GET /slow HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
  t.ok(await eventually(() => pod.count === 2), 'the slow request holds the pod');

  // The queued one (cc=1), on its own connection.
  const agent = new Agent();
  t.teardown(() => agent.close());
  const queued = request(`http://${H}:${p.ingressPort}/queued`, { headers: { host: HOST }, dispatcher: agent });
  const queuedNow = async (): Promise<number | undefined> =>
    metricValue(await (await request(admin + '/metrics')).body.text(), 'ikukantai_proxy_queued_requests', { revision: 'hello-00001' });
  t.ok(await eventually(async () => (await queuedNow()) === 1), 'the second request waits in the owner queue');
  t.equal(pod.count, 2, 'nothing else reached the pod');

  p.child.kill('SIGTERM');
  t.ok(await eventually(async () => (await ready()) === 503), '/readyz answers 503 after SIGTERM');
  t.ok(await p.waitForEvent('drain_listeners_closed'), 'the grace passed and the listeners closed');
  t.equal(await ready(), 503, 'still not ready while draining');
  t.equal(p.child.exitCode, null, 'still running: work in flight');
  t.ok(await eventually(() => idleClosed), 'the idle keep-alive socket was closed by the drain');
  t.match(idleText, /^HTTP\/1\.1 200 [^]*hello from a \/warm\n\r\n0\r\n\r\n$/, 'with nothing after its one response');

  // A request on the already-open socket after the grace (pipelined behind the slow one).
  socket.write(`GET /late HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
  // A new connection is refused: the listener is closed.
  const refused = await new Promise<string>((resolve) => {
    const s = connect(p.ingressPort, H);
    s.on('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.on('error', (err: Error & { code?: string }) => resolve(err.code ?? err.message));
  });
  t.equal(refused, 'ECONNREFUSED', 'no new connections after the grace');

  pod.releaseAll();
  const q = await queued;
  t.equal(q.statusCode, 200, 'the queued request completed');
  t.equal(await q.body.text(), 'hello from a /queued\n');
  t.ok(await eventually(() => socketClosed), 'the proxy closed the kept-alive socket');
  const responses = text.split(/(?=HTTP\/1\.1 )/);
  t.equal(responses.length, 2, 'two responses on the socket');
  t.match(responses[0], /^HTTP\/1\.1 200 /, 'the slow request completed 200');
  t.match(responses[0], /\r\n\r\n13\r\nhello from a \/slow\n\r\n0\r\n\r\n$/, 'its whole body, last chunk included');
  t.match(responses[1], /^HTTP\/1\.1 503 /, 'the late request was refused');
  t.match(responses[1]!.toLowerCase(), /\r\nikukantai-error: draining\r\n/);
  t.match(responses[1]!.toLowerCase(), /\r\nconnection: close\r\n/);
  t.match(responses[1], /proxy is draining\n$/);
  t.equal(pod.count, 3, '/late never reached the pod');

  t.equal(await p.exited, 0, 'exit 0 once nothing is in flight');
  t.ok(p.logs.some((l) => l['event'] === 'drain_finished' && l['msg'] === 'idle'), 'drained to idle, not cut at the deadline');
  t.same(p.stderr, [], 'nothing on stderr');
});

t.test('SIGTERM with nothing in flight: exits 0 right after the grace', async (t) => {
  const pod = await startCountingPod(t, '127.0.34.11', 'a');
  const file = new EndpointsFile({ revisions: [helloRevision([{ address: pod.address, port: pod.port, node: 'node1' }])] });
  const p = await startProxyProcess(t, H, file.path, ['--drain-grace', '300ms']);
  // No keep-alive, so no socket of ours is left for the drain to wait on or close.
  const agent = new Agent({ pipelining: 0 });
  t.teardown(() => agent.close());
  const r = await request(`http://${H}:${p.ingressPort}/`, { headers: { host: HOST }, dispatcher: agent });
  t.equal(r.statusCode, 200);
  await r.body.text();
  p.child.kill('SIGINT');
  t.equal(await p.exited, 0);
  t.same(
    p.logs.filter((l) => String(l['event']).startsWith('drain')).map((l) => l['event']),
    ['drain_started', 'drain_listeners_closed', 'drain_finished'],
  );
});

t.test('during the grace: /readyz 503, new connections and requests still served; a second signal forces exit 1', async (t) => {
  const pod = await startCountingPod(t, '127.0.34.12', 'a');
  const file = new EndpointsFile({ revisions: [helloRevision([{ address: pod.address, port: pod.port, node: 'node1' }])] });
  // A grace far longer than the test, so "still inside the grace" never depends on timing.
  const p = await startProxyProcess(t, H, file.path, ['--drain-grace', '1m']);
  const readyz = async (): Promise<number> => {
    const r = await request(`http://${H}:${p.adminPort}/readyz`);
    await r.body.text();
    return r.statusCode;
  };
  t.ok(await eventually(async () => (await readyz()) === 200));
  p.child.kill('SIGTERM');
  t.ok(await eventually(async () => (await readyz()) === 503), '/readyz 503 while the grace runs');
  t.ok(await p.waitForEvent('drain_started'));
  const agent = new Agent({ pipelining: 0 });
  t.teardown(() => agent.close());
  for (let i = 0; i < 3; i++) {
    const r = await request(`http://${H}:${p.ingressPort}/grace${i}`, { headers: { host: HOST }, dispatcher: agent });
    t.equal(r.statusCode, 200, `new connection ${i} served during the grace`);
    t.equal(await r.body.text(), `hello from a /grace${i}\n`);
  }
  t.notOk(p.logs.some((l) => l['event'] === 'drain_listeners_closed'), 'the listeners are still open');
  p.child.kill('SIGTERM');
  t.equal(await p.exited, 1, 'a second signal exits at once, with 1');
  t.ok(p.logs.some((l) => l['event'] === 'forced_exit'));
});
