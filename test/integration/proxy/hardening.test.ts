// The front server's hardening against hostile or broken HTTP/1.1 framing (DESIGN.md §2
// "Connections", "Errors"; RFC 9112 §3.2, §6.1, §7.1, §9.3.2, §9.6), with exact bytes on real
// sockets. A rejected request must never reach the pod: the pod counts every TCP connection it
// accepts, so "not a byte" is checked as "not a connection".

import t, { type Test } from 'tap';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { request } from 'undici';
import { rawRequest, type RawResult } from '../../support/raw-http.ts';
import { eventually, hello, helloRevision, HOST, startBackend, startTestProxy, type Backend, type TestProxy } from '../../support/proxy-harness.ts';

// Loopback range for this file: 127.0.35.x
const H = '127.0.35.1';

interface CountingPod extends Backend {
  connections: () => number;
}

async function countingPod(t: Test, address: string, handler = hello('pod')): Promise<CountingPod> {
  const pod = await startBackend(t, address, handler);
  let connections = 0;
  pod.server.on('connection', () => connections++);
  return { ...pod, connections: () => connections };
}

async function proxyTo(t: Test, pod: Backend): Promise<TestProxy> {
  return startTestProxy(t, H, { revisions: [helloRevision([{ address: pod.address, port: pod.port, node: 'node1' }])] });
}

/** Header block of a raw response, lower-cased names; the body after it. */
function parse(res: RawResult): { head: string; body: string } {
  const at = res.text.indexOf('\r\n\r\n');
  return { head: res.text.slice(0, at).toLowerCase(), body: res.text.slice(at + 4) };
}

interface RejectCase {
  name: string;
  bytes: string;
  status: number;
  code: string;
}

const big = (n: number): string => 'a'.repeat(n);
const manyFields = Array.from({ length: 100 }, (_, i) => `X-F${i}: v\r\n`).join('');

const rejectCases: RejectCase[] = [
  {
    name: 'Content-Length with Transfer-Encoding',
    bytes: `POST / HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    status: 400,
    code: 'bad_request',
  },
  {
    name: 'duplicate Host',
    bytes: `GET / HTTP/1.1\r\nHost: ${HOST}\r\nHost: other.example\r\n\r\n`,
    status: 400,
    code: 'bad_request',
  },
  {
    name: 'HTTP/1.0 with Transfer-Encoding: chunked',
    bytes: `POST / HTTP/1.0\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    status: 400,
    code: 'bad_request',
  },
  {
    name: 'bad chunk size',
    bytes: `POST / HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`,
    status: 400,
    code: 'bad_request',
  },
  {
    name: 'header bytes over 16 KiB',
    bytes: `GET / HTTP/1.1\r\nHost: ${HOST}\r\nX-Big: ${big(16 * 1024)}\r\n\r\n`,
    status: 431,
    code: 'headers_too_large',
  },
  {
    name: '101 header fields',
    bytes: `GET / HTTP/1.1\r\nHost: ${HOST}\r\n${manyFields}\r\n`,
    status: 431,
    code: 'headers_too_large',
  },
  {
    name: 'chunk extension over 16 KiB',
    bytes: `POST / HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=${big(17 * 1024)}\r\nhello\r\n0\r\n\r\n`,
    status: 413,
    code: 'body_too_large',
  },
  {
    name: 'absolute-form target disagreeing with Host',
    bytes: `GET http://other.example/ HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
    status: 400,
    code: 'bad_request',
  },
];

t.test('malformed framing is answered by the proxy, the connection closed, nothing reaches the pod', async (t) => {
  const pod = await countingPod(t, '127.0.35.2');
  const p = await proxyTo(t, pod);
  // The same bytes with good framing do reach the pod: the cases below fail for their framing only.
  const good = await rawRequest(H, p.proxy.ingress.port, `GET / HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
  t.equal(good.status, 200);
  const chunked = await rawRequest(H, p.proxy.ingress.port,
    `POST / HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;ext=ok\r\nhello\r\n0\r\n\r\n`);
  t.equal(chunked.status, 200, 'a well-formed chunked body is forwarded');
  t.equal(pod.seen.length, 2);
  const before = pod.connections();

  for (const c of rejectCases) {
    const res = await rawRequest(H, p.proxy.ingress.port, c.bytes);
    const { head, body } = parse(res);
    t.equal(res.status, c.status, `${c.name}: ${c.status}`);
    t.match(head, `\r\nikukantai-error: ${c.code}`, `${c.name}: Ikukantai-Error ${c.code}`);
    t.match(head, '\r\nconnection: close', `${c.name}: Connection: close`);
    t.ok(res.closed, `${c.name}: the proxy closed the connection`);
    t.equal(body.split('\n').filter(Boolean).length, 1, `${c.name}: a one-line body`);
    t.equal(res.text.indexOf('HTTP/1.1', 1), -1, `${c.name}: exactly one response`);
  }
  // The pod would see a late connection only after the proxy's event loop turned: give it the chance.
  await request(p.adminUrl + '/healthz').then((r) => r.body.text());
  t.equal(pod.connections(), before, 'no rejected request opened a pod connection');
  t.equal(pod.seen.length, 2, 'no rejected request reached the pod');

  const metrics = await (await request(p.adminUrl + '/metrics')).body.text();
  t.match(metrics, /ikukantai_proxy_rejected_requests_total\{reason="bad_request",node="node1"\} 5/);
  t.match(metrics, /ikukantai_proxy_rejected_requests_total\{reason="headers_too_large",node="node1"\} 2/);
  t.match(metrics, /ikukantai_proxy_rejected_requests_total\{reason="body_too_large",node="node1"\} 1/);
  t.equal(p.logs.filter((l) => l['event'] === 'request_rejected').length, rejectCases.length, 'one JSON log line per rejection');
});

t.test('a client sending half a header line gets 408 after the 10 s headers timeout', async (t) => {
  const pod = await countingPod(t, '127.0.35.3');
  const p = await proxyTo(t, pod);
  // Timed by the proxy (10 s, swept every 1 s); 25 s is only a bound so the test can't hang.
  const res = await rawRequest(H, p.proxy.ingress.port, `GET / HTTP/1.1\r\nHo`, 25_000);
  const { head } = parse(res);
  t.equal(res.status, 408);
  t.match(head, '\r\nikukantai-error: request_timeout');
  t.match(head, '\r\nconnection: close');
  t.ok(res.closed, 'the proxy closed the connection');
  t.equal(pod.connections(), 0);
});

t.test('pipelined requests are forwarded one at a time and answered in order', async (t) => {
  let inflight = 0;
  let maxInflight = 0;
  const pod = await countingPod(t, '127.0.35.4', (req, res) => {
    inflight++;
    maxInflight = Math.max(maxInflight, inflight);
    req.resume();
    // Answer later, so a second forwarded request would overlap this one if the proxy allowed it.
    setTimeout(() => {
      inflight--;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`answer to ${req.url}\n`);
    }, 20);
  });
  const p = await proxyTo(t, pod);
  const n = 5;
  let bytes = '';
  for (let i = 0; i < n; i++) {
    const last = i === n - 1 ? 'Connection: close\r\n' : '';
    // A body on some of them: the next request must not be read into the previous one's body.
    bytes += i % 2 === 1 ? `POST /r${i} HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 3\r\n${last}\r\nabc` : `GET /r${i} HTTP/1.1\r\nHost: ${HOST}\r\n${last}\r\n`;
  }
  const res = await rawRequest(H, p.proxy.ingress.port, bytes, 20_000);
  const answers = [...res.text.matchAll(/answer to (\/r\d)/g)].map((m) => m[1]);
  t.same(answers, Array.from({ length: n }, (_, i) => `/r${i}`), 'responses in request order');
  t.equal(res.text.match(/HTTP\/1\.1 200/g)?.length, n);
  t.equal(maxInflight, 1, 'the pod never saw two of them at once');
  t.same(pod.seen.map((r) => r.url), answers, 'the pod got them in order');
  t.ok(res.closed);
});

t.test('Expect: 100-continue: the client gets 100, sends the body, and the pod gets it', async (t) => {
  let got = '';
  const pod = await countingPod(t, '127.0.35.5', (req, res) => {
    req.setEncoding('utf8');
    req.on('data', (c: string) => (got += c));
    req.on('end', () => res.end(`got ${got.length}\n`));
  });
  const p = await proxyTo(t, pod);
  const socket = connect(p.proxy.ingress.port, H);
  t.teardown(() => socket.destroy());
  await once(socket, 'connect');
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (c: string) => (text += c));
  socket.write(`POST /up HTTP/1.1\r\nHost: ${HOST}\r\nExpect: 100-continue\r\nContent-Length: 11\r\nConnection: close\r\n\r\n`);
  t.ok(await eventually(() => text.includes('\r\n\r\n'), 10_000), 'an interim response arrived');
  t.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\n$/, 'it is 100 Continue, before any body byte was sent');
  socket.write('hello world');
  await closed(socket);
  t.match(text, /HTTP\/1\.1 200 OK[\s\S]*\r\n\r\ngot 11\n$/);
  t.equal(got, 'hello world');
  t.equal(pod.seen[0]?.headers['expect'], undefined, 'Expect is not forwarded (the proxy already answered it)');
});

function closed(socket: Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : once(socket, 'close').then(() => undefined);
}
