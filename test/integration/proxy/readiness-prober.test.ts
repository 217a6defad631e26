import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { memoryLogger } from '../../../lib/log.ts';
import { ReadinessProber } from '../../../proxy/coldstart/readiness-prober.ts';
import { until } from '../../support/until.ts';

// Pods listen on 127.0.80.10–13; probes leave from 127.0.80.3 (the proxy's node address).
const SOURCE = '127.0.80.3';

/** Counts a server's connections: all accepted, open now, the most open at once, their sources. */
function track(server: net.Server): { accepted: number; open: number; peak: number; sources: Set<string> } {
  const c = { accepted: 0, open: 0, peak: 0, sources: new Set<string>() };
  server.on('connection', (s: net.Socket) => {
    c.accepted++;
    c.open++;
    c.peak = Math.max(c.peak, c.open);
    c.sources.add(s.remoteAddress ?? '');
    s.on('close', () => c.open--);
  });
  return c;
}

async function listen(server: net.Server, host: string, port = 0): Promise<number> {
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return (server.address() as AddressInfo).port;
}

function closer(server: net.Server): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      if (server instanceof http.Server) server.closeAllConnections();
      server.close(() => resolve());
    });
}

t.test('a pod that starts listening later is detected by TCP connect', async (t) => {
  const host = '127.0.80.10';
  // Take a free port, then free it: the pod is "not listening yet" there.
  const probePort = net.createServer();
  const port = await listen(probePort, host);
  await closer(probePort)();

  const prober = new ReadinessProber({ localAddress: SOURCE, logger: memoryLogger() });
  t.teardown(() => prober.close());
  let ready = 0;
  prober.watch('default/hello/a', { address: host, port }, () => ready++);
  prober.watch('default/hello/a', { address: host, port }, () => (ready += 100)); // idempotent
  t.same(prober.watching(), ['default/hello/a']);
  // A few periods of refused connects (seen through our own timer, not asserted on time).
  await new Promise((r) => setTimeout(r, 100));
  t.equal(ready, 0, 'not ready while nothing listens');

  const pod = net.createServer((s) => s.end());
  const conns = track(pod);
  t.teardown(closer(pod));
  await listen(pod, host, port);
  await until('ready', () => ready > 0);
  t.equal(ready, 1, 'onReady once, the first callback');
  t.same(prober.watching(), [], 'stops probing once ready');
  const accepted = conns.accepted;
  await new Promise((r) => setTimeout(r, 100));
  t.equal(conns.accepted, accepted, 'no probes after ready');
  t.same([...conns.sources], [SOURCE], 'probes come from localAddress');
  await until('probe sockets closed', () => conns.open === 0);
});

t.test('a readiness path answering 503 and then 200', async (t) => {
  const host = '127.0.80.11';
  const paths: string[] = [];
  let healthy = false;
  const pod = http.createServer((req, res) => {
    paths.push(req.url ?? '');
    res.statusCode = healthy ? 200 : 503;
    res.end(healthy ? 'ok' : 'starting');
  });
  const conns = track(pod);
  t.teardown(closer(pod));
  const port = await listen(pod, host);

  const logger = memoryLogger();
  const prober = new ReadinessProber({ localAddress: SOURCE, logger });
  t.teardown(() => prober.close());
  let ready = 0;
  let probesWhenReady = -1;
  prober.watch('default/hello/b', { address: host, port, path: '/healthz' }, () => {
    ready++;
    probesWhenReady = paths.length;
  });
  await until('three 503 answers', () => paths.length >= 3);
  t.equal(ready, 0, 'a 503 is not ready');
  healthy = true;
  await until('ready', () => ready > 0);
  t.equal(ready, 1);
  t.ok(paths.every((p) => p === '/healthz'), 'GETs the readiness path');
  const after = paths.length;
  t.equal(after, probesWhenReady, 'the passing GET was the last one');
  await new Promise((r) => setTimeout(r, 100));
  t.equal(paths.length, after, 'no probes after ready');
  t.same([...conns.sources], [SOURCE]);
  await until('probe sockets closed', () => conns.open === 0);
  t.equal(conns.peak <= 2, true, `one probe at a time (a closing socket may overlap the next): peak ${conns.peak}`);
  t.match(logger.lines, [{ event: 'readiness_probe_passed', pod: 'default/hello/b' }]);
});

t.test('unwatch stops probing, even with a probe in flight', async (t) => {
  const host = '127.0.80.12';
  let requests = 0;
  const pod = http.createServer((req, res) => {
    requests++;
    res.statusCode = 503;
    res.end();
  });
  const conns = track(pod);
  t.teardown(closer(pod));
  const port = await listen(pod, host);

  const prober = new ReadinessProber({ logger: memoryLogger() });
  t.teardown(() => prober.close());
  let ready = 0;
  prober.watch('k', { address: host, port, path: '/' }, () => ready++);
  await until('a few probes', () => requests >= 3);
  prober.unwatch('k');
  prober.unwatch('k'); // twice is harmless
  await until('probe sockets closed', () => conns.open === 0);
  const seen = conns.accepted;
  await new Promise((r) => setTimeout(r, 100));
  t.equal(conns.accepted, seen, 'no connection after unwatch');
  t.equal(ready, 0);
  t.same(prober.watching(), []);

  // A probe in flight to a pod that never answers, with a timeout far beyond the deadline below:
  // only unwatch can close that socket in time.
  const hung = http.createServer(() => {});
  const hungConns = track(hung);
  t.teardown(closer(hung));
  const hungPort = await listen(hung, host);
  const patient = new ReadinessProber({ timeoutMs: 60_000, logger: memoryLogger() });
  t.teardown(() => patient.close());
  patient.watch('hung', { address: host, port: hungPort, path: '/' }, () => ready++);
  await until('the probe connected', () => hungConns.open === 1);
  patient.unwatch('hung');
  await until('the in-flight probe cancelled', () => hungConns.open === 0);
  t.equal(hungConns.accepted, 1, 'one probe in flight, never a second');
});

t.test('a pod that accepts and never answers: timeouts destroy every socket, no leak', async (t) => {
  const host = '127.0.80.13';
  // HTTP pod that reads the request and never responds.
  const hung = http.createServer(() => {});
  const hungConns = track(hung);
  t.teardown(closer(hung));
  const hungPort = await listen(hung, host);
  // TCP pod whose probe passes, watched alongside, to show one stuck pod holds up nobody.
  const tcp = net.createServer(() => {});
  const tcpConns = track(tcp);
  t.teardown(closer(tcp));
  const tcpPort = await listen(tcp, host);

  const prober = new ReadinessProber({ intervalMs: 10, timeoutMs: 20, logger: memoryLogger() });
  t.teardown(() => prober.close());
  let hungReady = 0;
  let tcpReady = 0;
  prober.watch('hung', { address: host, port: hungPort, path: '/ready' }, () => hungReady++);
  prober.watch('tcp', { address: host, port: tcpPort }, () => tcpReady++);
  await until('tcp pod ready', () => tcpReady === 1);
  await until('ten timed-out probes', () => hungConns.accepted >= 10);
  t.equal(hungReady, 0);
  t.ok(hungConns.peak <= 2, `one probe in flight at a time (a closing socket may overlap the next): peak ${hungConns.peak}`);

  // close() while the hung pod's probe is in flight: its socket goes too.
  prober.close();
  prober.watch('late', { address: host, port: tcpPort }, () => tcpReady++);
  t.same(prober.watching(), [], 'closed: watch is a no-op');
  await until('every probe socket closed', () => hungConns.open === 0 && tcpConns.open === 0);
  t.equal(tcpReady, 1);
});

t.test('a throwing onReady is logged and does not break other watches', async (t) => {
  const host = '127.0.80.10';
  const pod = net.createServer((s) => s.end());
  t.teardown(closer(pod));
  const port = await listen(pod, host);
  const logger = memoryLogger();
  const prober = new ReadinessProber({ logger });
  t.teardown(() => prober.close());
  let second = 0;
  prober.watch('one', { address: host, port }, () => {
    throw new Error('waiter map gone');
  });
  prober.watch('two', { address: host, port }, () => second++);
  await until('both probed', () => second === 1 && logger.lines.some((l) => l.event === 'readiness_callback_error'));
  t.match(
    logger.lines.find((l) => l.event === 'readiness_callback_error'),
    { pod: 'one', msg: 'waiter map gone' },
  );
});

t.test('bad options are refused at construction', async (t) => {
  t.throws(() => new ReadinessProber({ intervalMs: 0, logger: memoryLogger() }), RangeError);
  t.throws(() => new ReadinessProber({ timeoutMs: -1, logger: memoryLogger() }), RangeError);
});
