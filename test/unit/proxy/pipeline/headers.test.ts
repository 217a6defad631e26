// Pure tables for header rewriting at the proxy boundary (RFC 9110 §7.6.1 hop-by-hop fields,
// DESIGN.md §2 "Forwarding", "Peer hop").

import t from 'tap';
import { downstreamResponseHeaders, upstreamRequestHeaders, type RequestHeaderOptions } from '../../../../proxy/pipeline/headers.ts';

/** The flat [name, value, …] array as [[name, value], …] for readable comparisons. */
function pairs(flat: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

interface RequestCase {
  name: string;
  raw: string[];
  connection?: string | string[];
  opts: RequestHeaderOptions;
  want: Array<[string, string]>;
}

const requestCases: RequestCase[] = [
  {
    name: 'keeps Host and end-to-end fields in order, adds X-Forwarded-For and -Proto',
    raw: ['Host', 'hello.default', 'Accept', '*/*', 'X-Custom', 'a'],
    opts: { forwardedFor: '10.0.0.7' },
    want: [['Host', 'hello.default'], ['Accept', '*/*'], ['X-Custom', 'a'], ['x-forwarded-for', '10.0.0.7'], ['x-forwarded-proto', 'http']],
  },
  {
    name: 'strips every hop-by-hop field and Expect (Node already answered 100-continue)',
    raw: [
      'Host', 'h', 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=5', 'Proxy-Connection', 'keep-alive', 'TE', 'trailers',
      'Trailer', 'X-Sum', 'Transfer-Encoding', 'chunked', 'Upgrade', 'websocket', 'Expect', '100-continue', 'X-End', '1',
    ],
    connection: 'keep-alive',
    opts: {},
    want: [['Host', 'h'], ['X-End', '1'], ['x-forwarded-proto', 'http']],
  },
  {
    name: 'strips the fields Connection names, in any case, across repeated Connection fields',
    raw: ['Host', 'h', 'Connection', 'X-A, close', 'Connection', ' x-b ,', 'X-A', '1', 'x-b', '2', 'X-C', '3'],
    connection: ['X-A, close', ' x-b ,'],
    opts: {},
    want: [['Host', 'h'], ['X-C', '3'], ['x-forwarded-proto', 'http']],
  },
  {
    name: 'appends to an existing X-Forwarded-For (several fields joined) and keeps a client X-Forwarded-Proto',
    raw: ['Host', 'h', 'X-Forwarded-For', '1.1.1.1', 'X-Forwarded-Proto', 'https', 'x-forwarded-for', '2.2.2.2'],
    opts: { forwardedFor: '127.0.0.9' },
    want: [['Host', 'h'], ['X-Forwarded-Proto', 'https'], ['x-forwarded-for', '1.1.1.1, 2.2.2.2, 127.0.0.9']],
  },
  {
    name: 'owner side (no forwardedFor): X-Forwarded-For passes through untouched',
    raw: ['Host', 'h', 'X-Forwarded-For', '1.1.1.1, 127.0.0.9'],
    opts: {},
    want: [['Host', 'h'], ['X-Forwarded-For', '1.1.1.1, 127.0.0.9'], ['x-forwarded-proto', 'http']],
  },
  {
    name: 'client Ikukantai-* fields never pass; Knative headers kept unless told',
    raw: ['Host', 'h', 'Ikukantai-Pod', '127.0.0.1:1', 'IKUKANTAI-ORIGIN-NODE', 'x', 'Knative-Serving-Namespace', 'default'],
    opts: {},
    want: [['Host', 'h'], ['Knative-Serving-Namespace', 'default'], ['x-forwarded-proto', 'http']],
  },
  {
    name: 'peer hop: client Knative headers replaced by the extra fields',
    raw: ['Host', 'h', 'Knative-Serving-Namespace', 'evil', 'knative-serving-revision', 'evil-1'],
    opts: {
      forwardedFor: '127.0.0.5',
      stripKnative: true,
      extra: ['knative-serving-namespace', 'default', 'knative-serving-revision', 'hello-00001', 'ikukantai-origin-node', 'node1', 'ikukantai-pod', '127.0.11.1:8080'],
    },
    want: [
      ['Host', 'h'], ['x-forwarded-for', '127.0.0.5'], ['x-forwarded-proto', 'http'],
      ['knative-serving-namespace', 'default'], ['knative-serving-revision', 'hello-00001'],
      ['ikukantai-origin-node', 'node1'], ['ikukantai-pod', '127.0.11.1:8080'],
    ],
  },
  {
    name: 'Upgrade and the fields Connection names are dropped (undici writes its own for tunnels)',
    raw: ['Host', 'h', 'Connection', 'Upgrade, X-Secret', 'Upgrade', 'websocket', 'X-Secret', 's', 'Sec-WebSocket-Key', 'k'],
    connection: 'Upgrade, X-Secret',
    opts: {},
    want: [['Host', 'h'], ['Sec-WebSocket-Key', 'k'], ['x-forwarded-proto', 'http']],
  },
  {
    name: 'Upgrade alone is dropped',
    raw: ['Host', 'h', 'Upgrade', 'h2c'],
    opts: {},
    want: [['Host', 'h'], ['x-forwarded-proto', 'http']],
  },
];

t.test('upstream request headers', async (t) => {
  for (const c of requestCases) t.same(pairs(upstreamRequestHeaders(c.raw, c.connection, c.opts)), c.want, c.name);
});

t.test('the input array is not modified', async (t) => {
  const raw = ['Host', 'h', 'Connection', 'close'];
  upstreamRequestHeaders(raw, 'close', { forwardedFor: '1.2.3.4', extra: ['a', 'b'] });
  t.same(raw, ['Host', 'h', 'Connection', 'close']);
});

t.test('downstream response headers: hop-by-hop out, named fields out, Ikukantai-Load returned apart', async (t) => {
  const table: Array<[string, Record<string, string | string[]>, Record<string, string | string[]>, string | undefined]> = [
    ['plain', { 'content-type': 'text/plain', 'content-length': '2' }, { 'content-type': 'text/plain', 'content-length': '2' }, undefined],
    [
      'hop-by-hop and Connection-named',
      { connection: 'x-pod-hop, keep-alive', 'x-pod-hop': 's', 'keep-alive': 'timeout=5', 'proxy-connection': 'keep-alive', 'transfer-encoding': 'chunked', trailer: 'x', upgrade: 'h2c', te: 't', 'x-end': 'kept' },
      { 'x-end': 'kept' },
      undefined,
    ],
    ['set-cookie array kept whole', { 'set-cookie': ['a=1', 'b=2'] }, { 'set-cookie': ['a=1', 'b=2'] }, undefined],
    ['load header', { 'ikukantai-load': 'inflight=2;queued=0;cc=4', 'ikukantai-error': 'queue_full' }, { 'ikukantai-error': 'queue_full' }, 'inflight=2;queued=0;cc=4'],
  ];
  for (const [name, input, headers, load] of table) {
    const got = downstreamResponseHeaders(input);
    t.same(got.headers, headers, `${name}: headers`);
    t.equal(got.load, load, `${name}: load`);
    t.equal('load' in got, load !== undefined, `${name}: load key only when present`);
  }
});
