// The demo pod as a real child process (127.0.141.x, offset 130 so node1's proxy is 127.0.140.1):
// it boots before listening, answers with its name and node, pays the RTT to a far caller, and on
// SIGTERM finishes the request in flight, then exits 0.
import t from 'tap';
import http from 'node:http';
import { once } from 'node:events';
import { PodProcess, type PodState } from '../../../deploy/local/pod-process.ts';
import { createPodServer } from '../../../deploy/local/pod-app.ts';

const topology = { nodes: ['node1', 'node2', 'node3'], rtt: { node1: { node2: 1, node3: 60 }, node2: { node3: 60 } } };

function get(host: string, port: number, path: string, from: string): Promise<{ status: number; body: string; ms: number }> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get({ host, port, path, localAddress: from, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - start }));
      })
      .on('error', reject);
  });
}

t.test('a pod process boots, answers, pays distance and drains on SIGTERM', async (t) => {
  const states: PodState[] = [];
  const pod = new PodProcess({
    config: {
      name: 'hello-node1-abcde',
      node: 'node1',
      host: '127.0.141.1',
      port: 8080,
      serviceTimeMs: 400,
      startupDelayMs: 150,
      readinessPath: '/healthz',
      offset: 130,
      topology,
    },
    probeFrom: '127.0.140.1',
    onState: (_p, s) => states.push(s),
  });
  t.teardown(() => pod.stop(1000));
  const deadline = Date.now() + 10_000;
  while (pod.state === 'starting' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.equal(pod.state, 'ready', 'readiness probe passed');

  const near = await get('127.0.141.1', 8080, '/', '127.0.140.1');
  t.equal(near.status, 200);
  t.equal(near.body, 'Konnichiwa from hello-node1-abcde in node1\n');
  t.ok(near.ms >= 400, `near caller waits the service time (${near.ms.toFixed(0)} ms)`);
  const far = await get('127.0.141.1', 8080, '/', '127.0.140.3');
  t.ok(far.ms >= 460, `node3 caller pays service time + one 60 ms RTT (${far.ms.toFixed(0)} ms)`);

  // SIGTERM while a request is in flight: it still completes, then the process exits 0.
  const inflight = get('127.0.141.1', 8080, '/', '127.0.140.1');
  await new Promise((r) => setTimeout(r, 100));
  const stopped = pod.stop(10_000);
  const last = await inflight;
  t.equal(last.status, 200, 'in-flight request finished during the drain');
  await stopped;
  t.equal(await pod.exited, 0, 'exit code 0');
  t.same(states, ['ready', 'terminating', 'exited']);
});

t.test('the in-process pod server answers any path and stops listening when drained', async (t) => {
  const pod = createPodServer({
    name: 'p',
    node: 'node2',
    host: '127.0.142.9',
    port: 0,
    serviceTimeMs: 0,
    startupDelayMs: 0,
    readinessPath: '/ready',
    offset: 130,
    topology,
  });
  pod.server.listen(0, '127.0.142.9');
  await once(pod.server, 'listening');
  const port = (pod.server.address() as { port: number }).port;
  t.equal((await get('127.0.142.9', port, '/ready', '127.0.142.1')).body, 'ok\n');
  t.equal((await get('127.0.142.9', port, '/anything?x=1', '127.0.142.1')).body, 'Konnichiwa from p in node2\n');
  await pod.drain();
  t.notOk(pod.server.listening, 'no longer listening after the drain');
});
