// The bench harness against real processes, briefly: the backend and each Node proxy start as
// children, serve the backend's body, are measurable through /proc, and are all gone afterwards.
// Addresses 127.0.41.x (the bench's own range, apart from a running bench's 127.0.40.x).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { BACKEND_BODY } from '../../../bench/support/backend-server.ts';
import { ChildSet } from '../../../bench/support/children.ts';
import { closedLoad } from '../../../bench/support/closed-load.ts';
import { findNginx, startNginx } from '../../../bench/support/nginx.ts';
import { pacedLoad } from '../../../bench/support/paced-load.ts';
import { REPO_ROOT } from '../../../bench/support/peers.ts';
import { ProcCpu } from '../../../bench/support/proc-cpu.ts';
import { waitForPort } from '../../../bench/support/wait-ready.ts';

const BACKEND = '127.0.41.1:8080';

const children = new ChildSet();
t.teardown(() => children.stopAll());

const node = (name: string, script: string, args: string[], nodeArgs: string[] = []) =>
  children.start({ name, command: process.execPath, args: [...nodeArgs, join(REPO_ROOT, script), ...args], cwd: REPO_ROOT });

t.before(async () => {
  const backend = node('backend', 'bench/support/backend-server.ts', ['--listen', BACKEND]);
  await waitForPort('127.0.41.1', 8080, backend, 20_000);
});

async function checkProxy(t: Test, host: string, pid: number): Promise<void> {
  const url = `http://${host}:8000/`;
  const cpu = new ProcCpu();
  const before = cpu.micros(pid);
  const closed = await closedLoad({ url, connections: 4, durationSeconds: 1, headers: { host: 'x' } }, BACKEND_BODY);
  t.equal(closed.failures, 0, 'closed loop: no failures');
  t.ok(closed.requests > 0 && closed.rps > 0, `closed loop: ${closed.requests} requests`);
  t.ok(cpu.micros(pid) > before, 'the proxy used CPU under load');
  const paced = await pacedLoad({ url, rate: 200, durationMs: 500, warmupMs: 100, headers: {}, expectBody: BACKEND_BODY });
  t.equal(paced.sent, 100);
  t.equal(paced.failures, 0, 'paced: no failures');
  t.equal(paced.latencyMs.count, 100);
  t.ok(paced.latencyMs.p50 > 0 && paced.latencyMs.p50 <= paced.latencyMs.p99);
}

t.test('the minimal undici proxy forwards the backend body', async (t) => {
  const child = node('minimal', 'bench/baseline/minimal-proxy.ts', ['--listen', '127.0.41.3:8000', '--target', BACKEND]);
  await waitForPort('127.0.41.3', 8000, child, 20_000);
  await checkProxy(t, '127.0.41.3', child.pid);
  await child.stop();
  t.notOk(child.running(), 'stopped');
});

t.test('http-proxy with a keep-alive agent forwards the backend body', async (t) => {
  const child = node('http-proxy', 'bench/support/http-proxy-server.ts', ['--listen', '127.0.41.5:8000', '--target', BACKEND], [
    '--disable-warning=DEP0060',
  ]);
  await waitForPort('127.0.41.5', 8000, child, 20_000);
  await checkProxy(t, '127.0.41.5', child.pid);
  await child.stop();
  t.notMatch(child.output(), /DeprecationWarning/, 'no deprecation noise');
});

const nginx = findNginx();
t.test('nginx from the generated config (1 worker) forwards the backend body', { skip: nginx ? false : 'nginx not installed (apt-get install nginx)' }, async (t) => {
  const binary = nginx!;
  const dir = mkdtempSync(join(tmpdir(), 'bench-nginx-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const child = startNginx(children, binary, { dir, listen: '127.0.41.4:8000', upstream: BACKEND });
  await waitForPort('127.0.41.4', 8000, child, 20_000);
  // The worker is the master's child: the tree's CPU must include it.
  await checkProxy(t, '127.0.41.4', child.pid);
  await child.stop();
  t.notOk(child.running());
});

t.test('a child that fails to start is reported with its own words', async (t) => {
  const child = node('bad', 'bench/baseline/minimal-proxy.ts', ['--listen', 'nonsense']);
  await t.rejects(waitForPort('127.0.41.6', 8000, child, 20_000), /bad exited before .*\n.*bad listen address/s);
});
