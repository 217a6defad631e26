// The emulator's Service relay on loopback (127.0.146.x, this suite's range): connections take
// turns over the replicas, a replica that is gone is skipped without the client noticing, and with
// no replica left the client's connection is reset.
import t, { type Test } from 'tap';
import net from 'node:net';
import { once } from 'node:events';
import { ServiceRelay } from '../../../deploy/local/service-relay.ts';

const HOST = '127.0.146.1';

/** A replica that answers every connection with its name and closes. */
async function replica(t: Test, name: string): Promise<{ target: { host: string; port: number }; server: net.Server }> {
  const server = net.createServer((s) => s.end(name));
  server.listen(0, HOST);
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { target: { host: HOST, port: (server.address() as net.AddressInfo).port }, server };
}

/** A port nothing listens on: bound, then released. */
async function deadTarget(): Promise<{ host: string; port: number }> {
  const server = net.createServer();
  server.listen(0, HOST);
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return { host: HOST, port };
}

async function relay(t: Test, targets: Array<{ host: string; port: number }>): Promise<ServiceRelay> {
  const r = new ServiceRelay({ listen: { host: '127.0.146.2', port: 0 }, targets });
  await r.start();
  t.teardown(() => r.close());
  return r;
}

/** What one connection through the relay reads, or the error that ended it. */
async function ask(r: ServiceRelay): Promise<string> {
  const sock = net.connect(r.address());
  let got = '';
  try {
    for await (const chunk of sock) got += chunk;
    return got;
  } catch (err) {
    return `error ${(err as NodeJS.ErrnoException).code}`;
  }
}

t.test('connections take turns over the replicas', async (t) => {
  const a = await replica(t, 'a');
  const b = await replica(t, 'b');
  const r = await relay(t, [a.target, b.target]);
  const answers: string[] = [];
  for (let i = 0; i < 4; i++) answers.push(await ask(r));
  t.same(answers, ['a', 'b', 'a', 'b']);
});

t.test('a replica that is gone is skipped; none left resets the client', async (t) => {
  const a = await replica(t, 'a');
  const r = await relay(t, [await deadTarget(), a.target]);
  t.same([await ask(r), await ask(r), await ask(r)], ['a', 'a', 'a'], 'every connection reaches the live replica');

  await new Promise<void>((resolve) => a.server.close(() => resolve()));
  t.equal(await ask(r), 'error ECONNRESET', 'no replica: the connection is reset');
});

t.test('bytes pass both ways on a held-open connection', async (t) => {
  const server = net.createServer((s) => s.pipe(s));
  server.listen(0, HOST);
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const r = await relay(t, [{ host: HOST, port: (server.address() as net.AddressInfo).port }]);
  const sock = net.connect(r.address());
  t.teardown(() => sock.destroy());
  sock.write('ping');
  const [echo] = (await once(sock, 'data')) as [Buffer];
  t.equal(echo.toString(), 'ping');
});

t.test('needs a target', async (t) => {
  t.throws(() => new ServiceRelay({ listen: { host: HOST, port: 0 }, targets: [] }), /at least one target/);
});
