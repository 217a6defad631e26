import t from 'tap';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { createStatsServer } from '../../../controller/stats-server.ts';
import type { StatsReport } from '../../../controller/stats-report.ts';
import { memoryLogger } from '../../../lib/log.ts';

const TOKEN = 's3cret-token';
const good = (): StatsReport => ({
  node: 'node3',
  time: '2026-11-26T12:00:00.123Z',
  intervalSeconds: 1,
  poke: false,
  revisions: [{ namespace: 'default', name: 'hello-00001', concurrency: 1.5, requests: 3, queued: 0 }],
  rtt: { node1: 50, node2: 50.5 },
});

t.test('POST /v1/stats: token, limits, schema', async (t) => {
  const got: Array<{ report: StatsReport; forwarded: boolean }> = [];
  const logger = memoryLogger('controller');
  const server = createStatsServer({ token: TOKEN, logger, onReport: (report, _body, forwarded) => got.push({ report, forwarded }) });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  server.unref();
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/stats`;
  const post = async (body: unknown, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }): Promise<number> => {
    const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    await res.body.dump();
    return res.statusCode;
  };

  t.equal(await post(good()), 204, 'a valid report');
  t.same(got[0], { report: good(), forwarded: false });
  t.equal(await post(good(), { authorization: `Bearer ${TOKEN}`, 'ikukantai-forwarded': '1' }), 204);
  t.equal(got[1]?.forwarded, true, 'a forwarded report is marked');

  t.equal(await post(good(), {}), 401, 'no token');
  t.equal(await post(good(), { authorization: 'Bearer nope' }), 401, 'wrong token');
  t.equal(await post(good(), { authorization: `Bearer ${TOKEN}x` }), 401, 'longer token');
  t.equal(await post(good(), { authorization: `Basic ${TOKEN}` }), 401, 'wrong scheme');

  const big = JSON.stringify({ ...good(), pad: 'x'.repeat(1024 * 1024) });
  t.equal(await post(big), 413, 'declared length over 1 MiB');
  const chunked = await request(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
    body: Readable.from(
      (function* () {
        for (let i = 0; i < 20; i++) yield Buffer.alloc(64 * 1024, 0x20);
      })(),
    ),
  }).catch((err: Error) => err);
  // The server answers 413 and closes; undici may see the answer or the reset first.
  if (!(chunked instanceof Error)) {
    t.equal(chunked.statusCode, 413, 'chunked body over 1 MiB');
    await chunked.body.dump().catch(() => undefined);
  }

  const bad: Array<[string, unknown]> = [
    ['not JSON', '{"node":'],
    ['an array', '[]'],
    ['missing rtt', { ...good(), rtt: undefined }],
    ['unknown field', { ...good(), extra: 1 }],
    ['bad node', { ...good(), node: 'Node_3' }],
    ['bad time', { ...good(), time: 'yesterday' }],
    ['poke not boolean', { ...good(), poke: 'yes' }],
    ['negative interval', { ...good(), intervalSeconds: -1 }],
    ['negative concurrency', { ...good(), revisions: [{ ...good().revisions[0], concurrency: -0.5 }] }],
    ['fractional requests', { ...good(), revisions: [{ ...good().revisions[0], requests: 1.5 }] }],
    ['bad revision name', { ...good(), revisions: [{ ...good().revisions[0], name: 'Hello' }] }],
    ['revision field missing', { ...good(), revisions: [{ namespace: 'default', name: 'x', concurrency: 1, requests: 1 }] }],
    ['repeated revision', { ...good(), revisions: [good().revisions[0], good().revisions[0]] }],
    ['rtt not a number', { ...good(), rtt: { node1: 'fast' } }],
  ];
  for (const [what, body] of bad) t.equal(await post(body), 400, what);
  t.equal(got.length, 2, 'nothing rejected reached onReport');
  t.ok(logger.lines.some((l) => l['event'] === 'stats_rejected'), 'rejections are logged');

  const get = await request(url);
  await get.body.dump();
  t.equal(get.statusCode, 405);
  const other = await request(url.replace('/v1/stats', '/v1/other'), { method: 'POST' });
  await other.body.dump();
  t.equal(other.statusCode, 404);
});
