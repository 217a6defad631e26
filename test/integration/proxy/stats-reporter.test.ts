import t from 'tap';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../../lib/clock.ts';
import { memoryLogger } from '../../../lib/log.ts';
import { DemandMeter } from '../../../proxy/stats/demand-meter.ts';
import { StatsReporter, type StatsReport } from '../../../proxy/stats/stats-reporter.ts';
import { until as waitUntil } from '../../support/until.ts';

const HOST = '127.0.80.1';
// The reporter's source address, distinct from the server's, to see localAddress applied.
const SOURCE = '127.0.80.2';

interface Received {
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  remoteAddress: string | undefined;
  body: StatsReport;
}

/** A stand-in for the controller's /v1/stats: records every body; `holdPokes` delays poke answers. */
class StatsServer {
  readonly received: Received[] = [];
  holdPokes = false;
  readonly #held: http.ServerResponse[] = [];
  #server: http.Server | null = null;
  port = 0;

  async listen(port = 0): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as StatsReport;
        this.received.push({
          path: req.url ?? '',
          authorization: req.headers.authorization,
          contentType: req.headers['content-type'],
          remoteAddress: req.socket.remoteAddress,
          body,
        });
        res.statusCode = 204;
        if (body.poke && this.holdPokes) this.#held.push(res);
        else res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(port, HOST, resolve));
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  releasePokes(): void {
    for (const res of this.#held.splice(0)) res.end();
  }

  get url(): string {
    return `http://${HOST}:${this.port}`;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (server === null) return;
    this.#server = null;
    this.releasePokes();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }
}

// This file's waits are longer than the shared default.
const until = (what: string, cond: () => boolean | Promise<boolean>, deadlineMs = 15_000): Promise<void> =>
  waitUntil(what, cond, deadlineMs);

t.test('a tick carries the meter numbers, the token and the rtt', async (t) => {
  const server = new StatsServer();
  await server.listen();
  t.teardown(() => server.close());
  const clock = new ManualClock();
  const meter = new DemandMeter(clock);
  // 2 requests open for 500 ms of a 1 s interval → concurrency 1.0
  meter.enter('default', 'hello-00001');
  meter.enter('default', 'hello-00001');
  clock.advance(500);
  meter.leave('default', 'hello-00001');
  meter.leave('default', 'hello-00001');
  clock.advance(500);
  const logger = memoryLogger();
  const reporter = new StatsReporter({
    url: `${server.url}/`,
    token: 's3cret',
    node: 'node3',
    meter,
    queuedNow: (ns, name) => (ns === 'default' && name === 'hello-00001' ? 3 : 0),
    rtt: () => ({ node1: 50, node2: 49.5 }),
    intervalMs: 50,
    logger,
    localAddress: SOURCE,
  });
  t.teardown(() => reporter.close());
  reporter.start();
  reporter.start(); // a second start keeps the one timer
  await until('two reports', () => server.received.length >= 2);

  const first = server.received[0]!;
  t.equal(first.path, '/v1/stats');
  t.equal(first.authorization, 'Bearer s3cret');
  t.equal(first.contentType, 'application/json');
  t.equal(first.remoteAddress, SOURCE, 'sent from localAddress');
  t.match(first.body.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, 'RFC 3339 time');
  t.same(
    { ...first.body, time: '' },
    {
      node: 'node3',
      time: '',
      intervalSeconds: 1,
      poke: false,
      revisions: [{ namespace: 'default', name: 'hello-00001', concurrency: 1, requests: 2, queued: 3 }],
      rtt: { node1: 50, node2: 49.5 },
    },
  );
  // The manual clock stood still since: a zero-length interval, nothing open, the queue still at 3.
  t.same(server.received[1]!.body.revisions, [{ namespace: 'default', name: 'hello-00001', concurrency: 0, requests: 0, queued: 3 }]);
  t.equal(server.received[1]!.body.intervalSeconds, 0);
  t.same(logger.lines, [], 'nothing to log while the controller answers');
});

t.test('a poke goes out at once, between ticks, and is coalesced per revision', async (t) => {
  const server = new StatsServer();
  await server.listen();
  t.teardown(() => server.close());
  const clock = new ManualClock();
  const meter = new DemandMeter(clock);
  meter.enter('default', 'warm');
  const reporter = new StatsReporter({
    url: server.url,
    token: 't',
    node: 'node1',
    meter,
    queuedNow: () => 0,
    rtt: () => ({}),
    intervalMs: 1000,
    logger: memoryLogger(),
  });
  t.teardown(() => reporter.close());
  reporter.start();
  await until('the first tick', () => server.received.length >= 1);

  // Two cold requests arrive right after a tick; the poke is held so it stays in flight.
  server.holdPokes = true;
  clock.advance(200);
  meter.enter('default', 'cold');
  meter.enter('default', 'cold');
  reporter.poke('default', 'cold');
  reporter.poke('default', 'cold');
  reporter.poke('default', 'cold');
  reporter.poke('other', 'cold2');
  await until('both pokes', () => server.received.filter((r) => r.body.poke).length === 2);
  const pokes = server.received.slice(1).map((r) => r.body);
  t.ok(
    pokes.every((b) => b.poke),
    'the pokes arrived before the next tick',
  );
  const cold = pokes.find((b) => b.revisions[0]?.name === 'cold')!;
  t.same(cold.revisions, [{ namespace: 'default', name: 'cold', concurrency: 2, requests: 2, queued: 0 }], 'only the cold revision, its numbers now');
  t.equal(cold.intervalSeconds, 0.2, 'the running part of the interval');
  t.same(pokes.find((b) => b.revisions[0]?.name === 'cold2')!.revisions, [{ namespace: 'other', name: 'cold2', concurrency: 0, requests: 0, queued: 0 }]);

  // While the poke is in flight, more pokes for it send nothing; the tick still comes on time.
  reporter.poke('default', 'cold');
  await until('the next tick', () => server.received.some((r, i) => i > 0 && !r.body.poke));
  t.equal(server.received.filter((r) => r.body.poke).length, 2, 'coalesced while in flight');
  const tick = server.received.find((r, i) => i > 0 && !r.body.poke)!.body;
  // Had the poke closed the interval, this tick would span 0 s and count no cold requests.
  t.equal(tick.intervalSeconds, 0.2, 'the tick was not reset by the poke');
  t.same(
    tick.revisions.find((r) => r.name === 'cold'),
    { namespace: 'default', name: 'cold', concurrency: 0, requests: 2, queued: 0 },
    'the tick still counts the cold requests',
  );

  // Once answered, the revision can be poked again.
  server.holdPokes = false;
  server.releasePokes();
  const before = server.received.length;
  await until('the poke answered', () => {
    reporter.poke('default', 'cold');
    return server.received.slice(before).some((r) => r.body.poke);
  });
});

t.test('controller down: no throw, collection goes on, reports and lost pokes resume on return', async (t) => {
  const server = new StatsServer();
  await server.listen();
  const port = server.port;
  const clock = new ManualClock();
  const meter = new DemandMeter(clock);
  meter.enter('default', 'busy');
  let collected = 0;
  const logger = memoryLogger();
  const reporter = new StatsReporter({
    url: server.url,
    token: 't',
    node: 'node2',
    meter,
    queuedNow: () => {
      collected++;
      return 0;
    },
    rtt: () => ({}),
    intervalMs: 50,
    logger,
  });
  t.teardown(() => reporter.close());
  reporter.start();
  await until('a first report', () => server.received.length > 0);

  await server.close();
  await until('the outage noticed', () => logger.lines.some((l) => l.event === 'stats_report_failed'));
  // A cold request during the outage: its poke fails and is remembered.
  meter.enter('default', 'cold');
  reporter.poke('default', 'cold');
  const seen = collected;
  // Ten more ticks collected while nothing gets through (the meter never waits on the controller).
  await until('collection continues', () => collected >= seen + 10);

  const back = new StatsServer();
  await back.listen(port);
  t.teardown(() => back.close());
  await until('reports resume', () => back.received.some((r) => !r.body.poke));
  await until('the lost poke is sent again', () => back.received.some((r) => r.body.poke && r.body.revisions[0]?.name === 'cold'));
  t.same(
    logger.lines.map((l) => l.event),
    ['stats_report_failed', 'stats_report_recovered'],
    'one line when the outage starts, one when it ends',
  );
  t.equal(logger.lines[0]!.level, 'warn');
});

t.test('close ends the ticks and ignores later pokes', async (t) => {
  const server = new StatsServer();
  await server.listen();
  t.teardown(() => server.close());
  const clock = new ManualClock();
  const meter = new DemandMeter(clock);
  let collects = 0;
  const reporter = new StatsReporter({
    url: server.url,
    token: 't',
    node: 'node1',
    meter,
    queuedNow: () => 0,
    rtt: () => {
      collects++;
      return {};
    },
    intervalMs: 20,
    logger: memoryLogger(),
  });
  reporter.start();
  await until('a report', () => server.received.length > 0);
  await reporter.close();
  await reporter.close();
  const after = collects;
  reporter.poke('default', 'x');
  reporter.start();
  // Five intervals with no tick, seen through a timer of our own rather than a timed assertion.
  await new Promise((r) => setTimeout(r, 100));
  t.equal(collects, after, 'no tick and no poke after close');
});

t.test('a throwing collaborator is logged, not thrown', async (t) => {
  const server = new StatsServer();
  await server.listen();
  t.teardown(() => server.close());
  const logger = memoryLogger();
  const meter = new DemandMeter(new ManualClock());
  let fail = true;
  const reporter = new StatsReporter({
    url: server.url,
    token: 't',
    node: 'node1',
    meter,
    queuedNow: () => 0,
    rtt: () => {
      if (fail) throw new Error('rtt table broken');
      return {};
    },
    intervalMs: 20,
    logger,
  });
  t.teardown(() => reporter.close());
  reporter.start();
  reporter.poke('default', 'x');
  await until('the tick error logged', () => logger.lines.some((l) => l.event === 'stats_collect_error'));
  t.ok(logger.lines.some((l) => l.event === 'stats_poke_error'));
  fail = false;
  await until('reports flow once it is fixed', () => server.received.length > 0);
});

t.test('a non-2xx answer counts as a failure', async (t) => {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.statusCode = 401;
      res.end('bad token');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  t.teardown(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const logger = memoryLogger();
  const reporter = new StatsReporter({
    url: `http://${HOST}:${(server.address() as AddressInfo).port}`,
    token: 'wrong',
    node: 'node1',
    meter: new DemandMeter(new ManualClock()),
    queuedNow: () => 0,
    rtt: () => ({}),
    intervalMs: 20,
    logger,
    backoff: { initialMs: 20, maxMs: 40 },
  });
  t.teardown(() => reporter.close());
  reporter.start();
  await until('the failure logged', () => logger.lines.length > 0);
  t.match(logger.lines[0], { event: 'stats_report_failed', msg: /401/ });
});

t.test('bad options are refused at construction', async (t) => {
  const base = { token: 't', node: 'n', meter: new DemandMeter(new ManualClock()), queuedNow: () => 0, rtt: () => ({}), logger: memoryLogger() };
  t.throws(() => new StatsReporter({ ...base, url: 'not a url' }), TypeError);
  t.throws(() => new StatsReporter({ ...base, url: 'ftp://127.0.80.1' }), RangeError);
  t.throws(() => new StatsReporter({ ...base, url: `http://${HOST}:1`, intervalMs: 0 }), RangeError);
});
