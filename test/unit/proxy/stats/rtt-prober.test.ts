import t from 'tap';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RttProber } from '../../../../proxy/stats/rtt-prober.ts';
import { createProxyMetrics } from '../../../../proxy/proxy-metrics.ts';
import { memoryLogger } from '../../../../lib/log.ts';
import { symmetricRtt, type Peer } from '../../../../lib/model.ts';
import { until } from '../../../support/until.ts';

// Loopback range of this test file: 127.0.70.0/24.

interface ProbeServer {
  server: Server;
  port: number;
  seen: Array<{ method: string; url: string; probe: string | undefined; from: string | undefined }>;
}

async function listen(host: string, handle: (req: IncomingMessage, res: ServerResponse) => void, port = 0): Promise<ProbeServer> {
  const seen: ProbeServer['seen'] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', probe: req.headers['k-network-probe'] as string | undefined, from: req.socket.remoteAddress });
    handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

async function shut(s: ProbeServer): Promise<void> {
  s.server.closeAllConnections();
  await new Promise<void>((resolve) => s.server.close(() => resolve()));
}

/** A port nobody listens on: bound once, then released. */
async function deadPort(host: string): Promise<number> {
  const s = await listen(host, () => {});
  await shut(s);
  return s.port;
}

const ok = (_req: IncomingMessage, res: ServerResponse): void => {
  res.end();
};
const DELAY_MS = 40;
const slow = (_req: IncomingMessage, res: ServerResponse): void => {
  setTimeout(() => res.end(), DELAY_MS);
};

async function gauge(metrics: ReturnType<typeof createProxyMetrics>): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const v of (await metrics.nodeRtt.get()).values) out.set(`${v.labels.from}->${v.labels.to}`, v.value);
  return out;
}

t.test('measures each peer, keeps the prior where no probe answers, exports both', async (t) => {
  const fast = await listen('127.0.70.1', ok);
  const delayed = await listen('127.0.70.2', slow);
  const dead = await deadPort('127.0.70.3');
  t.teardown(() => Promise.all([shut(fast), shut(delayed)]));
  const peers: Peer[] = [
    { node: 'n1', address: '127.0.70.9', port: 1 }, // itself: never probed
    { node: 'n2', address: '127.0.70.1', port: fast.port },
    { node: 'n3', address: '127.0.70.2', port: delayed.port },
    { node: 'n4', address: '127.0.70.3', port: dead },
  ];
  const metrics = createProxyMetrics('n1');
  const logger = memoryLogger('n1');
  const prober = new RttProber({
    node: 'n1',
    peers: () => peers,
    intervalMs: 50,
    timeoutMs: 5_000, // two 40 ms probes outlast a 50 ms interval: rounds skip ticks, never overlap
    prior: symmetricRtt({ n1: { n2: 7, n3: 9, n4: 11 } }),
    metrics: metrics.nodeRtt,
    localAddress: '127.0.70.9',
    logger,
  });
  t.teardown(() => prober.close());

  prober.start();
  t.same(await gauge(metrics), new Map([['n1->n2', 0.007], ['n1->n3', 0.009], ['n1->n4', 0.011]]), 'priors are on the gauge before any answer');

  // Two probes a round; a third seen means the first round's sample is recorded.
  await until('three rounds at both live peers', () => fast.seen.length >= 6 && delayed.seen.length >= 6);
  t.ok(fast.seen.every((r) => r.method === 'GET' && r.url === '/' && r.probe === 'rtt'), 'GET / with K-Network-Probe: rtt');
  t.ok(fast.seen.every((r) => r.from === '127.0.70.9'), 'from --node-address');
  const n2 = prober.rttMs('n2');
  t.ok(n2 !== undefined && n2 >= 0 && n2 !== 7, `n2 measured: ${n2} ms`);
  t.ok(prober.rttMs('n3')! >= DELAY_MS, `n3 measured at least the server's ${DELAY_MS} ms delay: ${prober.rttMs('n3')}`);
  t.equal(prober.rttMs('n4'), 11, 'n4 never answered: the prior');
  t.equal(prober.rttMs('n1'), 0, 'itself');
  t.equal(prober.rttMs('n9'), undefined, 'unknown node, no prior');
  t.same(Object.keys(prober.rttByNode()).sort(), ['n2', 'n3', 'n4']);

  const g = await gauge(metrics);
  t.equal(g.get('n1->n4'), 0.011);
  t.ok(g.get('n1->n3')! >= DELAY_MS / 1000, 'seconds on the gauge');
  t.notOk(g.has('n1->n1'));
  const failed = logger.lines.filter((l) => l['event'] === 'rtt_probe_failed');
  t.equal(failed.length, 1, 'a failing peer is logged once, not every round');
  t.equal(failed[0]?.['peer'], 'n4');
});

t.test('a peer that starts answering recovers; a peer that leaves leaves the gauge', async (t) => {
  const host = '127.0.70.4';
  const port = await deadPort(host);
  const peers: Peer[] = [{ node: 'n2', address: host, port }];
  const metrics = createProxyMetrics('n1');
  const logger = memoryLogger('n1');
  const prober = new RttProber({ node: 'n1', peers: () => peers, intervalMs: 50, prior: new Map(), metrics: metrics.nodeRtt, logger });
  t.teardown(() => prober.close());
  prober.start();
  await until('the failure is logged', () => logger.lines.some((l) => l['event'] === 'rtt_probe_failed'));
  t.equal(prober.rttMs('n2'), undefined, 'no prior, no answer: unknown');
  t.same(await gauge(metrics), new Map(), 'nothing to export yet');

  const server = await listen(host, ok, port);
  t.teardown(() => shut(server));
  await until('recovered', () => logger.lines.some((l) => l['event'] === 'rtt_probe_recovered'));
  t.ok(prober.rttMs('n2')! >= 0);
  t.ok((await gauge(metrics)).has('n1->n2'));

  prober.setPrior(symmetricRtt({ n1: { n2: 3 } }));
  t.not(prober.rttMs('n2'), 3, 'a measurement beats a new prior');

  peers.length = 0;
  await until('n2 gone from the gauge', async () => !(await gauge(metrics)).has('n1->n2'));
  t.same(prober.rttByNode(), {});
});

t.test('close() ends a probe that hangs, and rounds do not pile up behind it', async (t) => {
  const hanging = await listen('127.0.70.5', () => {}); // never answers
  t.teardown(() => shut(hanging));
  const metrics = createProxyMetrics('n1');
  const logger = memoryLogger('n1');
  const prober = new RttProber({
    node: 'n1',
    peers: () => [{ node: 'n2', address: '127.0.70.5', port: hanging.port }],
    intervalMs: 20,
    timeoutMs: 60_000,
    prior: symmetricRtt({ n1: { n2: 50 } }),
    metrics: metrics.nodeRtt,
    logger,
  });
  prober.start();
  await until('the probe arrived', () => hanging.seen.length >= 1);
  await new Promise((r) => setTimeout(r, 100)); // five more ticks
  t.equal(hanging.seen.length, 1, 'one round in flight at a time');
  await prober.close();
  t.equal(prober.rttMs('n2'), 50);
  t.same(await gauge(metrics), new Map(), 'closed: series removed');
  t.notOk(logger.lines.some((l) => l['event'] === 'rtt_probe_failed'), 'closing is not a probe failure');
});

t.test('rejects a bad interval', async (t) => {
  t.throws(() => new RttProber({ node: 'n1', peers: () => [], intervalMs: 0, prior: new Map(), metrics: createProxyMetrics('n1').nodeRtt, logger: memoryLogger() }), RangeError);
});
