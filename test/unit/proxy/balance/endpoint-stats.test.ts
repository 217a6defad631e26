import t from 'tap';
import { EndpointStats, REPORT_TTL_MS } from '../../../../proxy/balance/endpoint-stats.ts';

const remote = (): EndpointStats => new EndpointStats({ key: '127.0.70.1:8080', node: 'n2', local: false, initialLatencyMs: 10 });

t.test('cost = latency × (inflight + queued + 1)', async (t) => {
  const e = remote();
  t.equal(e.cost(0), 10);
  e.inflight = 2;
  t.equal(e.cost(0), 30);
  e.observe(4, 0);
  t.equal(e.cost(0), 12);
});

t.test('a report adds the other senders and the owner queue, without counting ours twice', async (t) => {
  const e = remote();
  e.inflight = 1; // the request whose response carries the report
  e.reportLoad({ inflight: 5, queued: 3, cc: 4 }, 1000);
  t.equal(e.load(1000), 1 + 4 + 3, 'ours 1 + others 4 + queued 3');
  t.same(e.reported(1000), { inflight: 5, queued: 3, cc: 4 });
  e.inflight = 0; // that response ended
  t.equal(e.load(1000), 7);
  e.inflight = 3; // we sent more since
  t.equal(e.load(1000), 10);
  t.equal(e.cost(1000), 10 * 11);
});

t.test('a report that counts fewer than ours means no others', async (t) => {
  const e = remote();
  e.inflight = 4;
  e.reportLoad({ inflight: 2, queued: 0, cc: 0 }, 0);
  t.equal(e.load(0), 4);
});

t.test('a report ages out after REPORT_TTL_MS', async (t) => {
  const e = remote();
  e.reportLoad({ inflight: 9, queued: 9, cc: 1 }, 0);
  t.equal(e.load(REPORT_TTL_MS), 18);
  t.equal(e.load(REPORT_TTL_MS + 1), 0);
  t.equal(e.reported(REPORT_TTL_MS + 1), undefined);
});

t.test('keeps identity fields', async (t) => {
  const e = new EndpointStats({ key: 'k', node: 'n1', local: true, initialLatencyMs: 1, tauMs: 5000 });
  t.same([e.key, e.node, e.local, e.inflight], ['k', 'n1', true, 0]);
});

t.test('a local pod reads the owner queue live, with or without a fresh report', async (t) => {
  const owner = { queued: 0 };
  const e = new EndpointStats({ key: 'k', node: 'n1', local: true, initialLatencyMs: 10, ownerQueue: owner });
  e.inflight = 1;
  t.equal(e.cost(0), 20, 'one in flight, nothing queued');
  owner.queued = 3; // a burst queued behind cc before any answer carried a report
  t.equal(e.load(0), 4);
  t.equal(e.cost(0), 50);
  e.reportLoad({ inflight: 2, queued: 0, cc: 1 }, 0); // a stale queue figure in the report is ignored
  t.equal(e.load(0), 1 + 1 + 3, 'ours 1 + others 1 + the queue now 3');
  owner.queued = 0;
  t.equal(e.load(REPORT_TTL_MS + 1), 1, 'report aged out: ours + the queue now');
});
