// The delay relay on loopback (127.0.140.x, this suite's range): it adds at least its delay each
// way, keeps order, passes half-closes on and bounds what it holds when the far side stops reading.
import t, { type Test } from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { DelayRelay } from '../../../deploy/local/delay-relay.ts';

const FAR = '127.0.140.3';
const NEAR = '127.0.140.4';

async function listen(server: net.Server, host: string): Promise<number> {
  server.listen(0, host);
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

async function relayTo(t: Test, target: { host: string; port: number }, maxHeldBytes?: number): Promise<DelayRelay> {
  const relay = new DelayRelay({
    listen: { host: '127.0.140.2', port: 0 },
    target,
    localAddress: '127.0.140.2',
    oneWayDelayMs: (src) => (src === FAR ? 30 : 0),
    maxHeldBytes,
  });
  await relay.start();
  t.teardown(() => relay.close());
  return relay;
}

function connect(relay: DelayRelay, from: string): net.Socket {
  const { host, port } = relay.address();
  return net.connect({ host, port, localAddress: from, allowHalfOpen: true });
}

async function echoServer(t: Test): Promise<{ host: string; port: number }> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
  const port = await listen(server, '127.0.140.1');
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { host: '127.0.140.1', port };
}

async function roundTrip(sock: net.Socket, text: string): Promise<number> {
  const start = performance.now();
  sock.write(text);
  let got = '';
  for await (const chunk of sock) {
    got += chunk;
    if (got.length >= text.length) break;
  }
  return performance.now() - start;
}

t.test('a far source pays at least the delay each way, a near one does not', async (t) => {
  const relay = await relayTo(t, await echoServer(t));
  const far = connect(relay, FAR);
  await once(far, 'connect');
  const elapsed = await roundTrip(far, 'ping');
  t.ok(elapsed >= 60, `far round trip took ${elapsed.toFixed(1)} ms (≥ 2 × 30 ms)`);
  far.destroy();

  const near = connect(relay, NEAR);
  await once(near, 'connect');
  t.ok((await roundTrip(near, 'ping')) >= 0, 'near source answered');
  near.destroy();
});

t.test('order, content and half-close survive the delay', async (t) => {
  const relay = await relayTo(t, await echoServer(t));
  const sock = connect(relay, FAR);
  const sent: Buffer[] = [];
  for (let i = 0; i < 200; i++) {
    const b = Buffer.alloc(1000 + i, i % 251);
    sent.push(b);
    sock.write(b);
  }
  sock.end();
  const got: Buffer[] = [];
  for await (const chunk of sock) got.push(chunk as Buffer);
  t.ok(Buffer.concat(got).equals(Buffer.concat(sent)), 'echoed bytes equal the sent bytes, in order');
  t.equal(relay.heldBytes(), 0, 'nothing held after the exchange');
});

t.test('a peer that stops reading bounds what the relay holds', async (t) => {
  const max = 64 * 1024;
  let stalled: net.Socket | undefined;
  const sink = net.createServer((s) => {
    stalled = s;
    s.pause();
  });
  const port = await listen(sink, '127.0.140.1');
  t.teardown(() => new Promise<void>((r) => sink.close(() => r())));
  const relay = await relayTo(t, { host: '127.0.140.1', port }, max);
  const sock = connect(relay, FAR);
  await once(sock, 'connect');
  const chunk = Buffer.alloc(64 * 1024, 7);
  let written = 0;
  // Write until the client itself sees backpressure (bounded: at most 64 MiB offered).
  while (sock.write(chunk) && written < 64 * 1024 * 1024) written += chunk.length;
  t.ok(written < 64 * 1024 * 1024, `backpressure reached the client after ${written} bytes`);
  // Give the relay time to fill whatever it will hold, then check it stayed bounded.
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline && relay.heldBytes() < max) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200));
  t.ok(relay.heldBytes() <= max + chunk.length, `held ${relay.heldBytes()} bytes ≤ ${max} + one chunk`);
  // Reading again drains everything through.
  let received = 0;
  stalled!.on('data', (b: Buffer) => (received += b.length));
  stalled!.resume();
  sock.end();
  await once(stalled!, 'end');
  t.ok(received > written, `all ${received} bytes arrived once the reader resumed`);
  stalled!.destroy();
});

t.test('a reset on one side tears down the other', async (t) => {
  let upstream: net.Socket | undefined;
  const server = net.createServer((s) => (upstream = s));
  const port = await listen(server, '127.0.140.1');
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const relay = await relayTo(t, { host: '127.0.140.1', port });
  const sock = connect(relay, FAR);
  let error: NodeJS.ErrnoException | undefined;
  sock.on('error', (err) => (error = err));
  const closed = new Promise((r) => sock.once('close', r));
  await once(sock, 'connect');
  const deadline = Date.now() + 2000;
  while (!upstream && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  upstream!.resetAndDestroy();
  await closed;
  t.equal(error?.code, 'ECONNRESET', 'the client saw the reset');
});
