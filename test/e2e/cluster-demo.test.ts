// `npm start` as users run it (deploy/local/demo.ts, here with --offset 120 so it can run beside
// other cluster tests: API 127.0.128.1:6443, proxies 127.0.130.k). It prints what to curl; the
// printed curl for node3 is answered by a node3 pod; SIGINT stops it and every process it started,
// and so does its parent dying without a word (the demo watches its parent).
import t from 'tap';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { alive } from '../support/alive.ts';

const DEMO = fileURLToPath(new URL('../../deploy/local/demo.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Every process under `root`, from /proc (Linux). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const walk = (pid: number): void => {
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

t.test('npm start prints what to curl, serves it, and Ctrl-C leaves nothing behind', { timeout: 115_000 }, async (t) => {
  const demo = spawn(process.execPath, [DEMO, '--offset', '120', '--ready-timeout', '100s'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  demo.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  demo.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (demo.exitCode === null) demo.kill('SIGKILL');
  });

  const deadline = Date.now() + 105_000;
  while (!out.includes('Ctrl-C stops everything') && demo.exitCode === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  t.match(out, /Ctrl-C stops everything/, `banner printed (stderr: ${err.trim()})`);
  t.match(out, /export KUBECONFIG=\S+kubeconfig/);
  for (let k = 1; k <= 3; k++) t.match(out, `http://127.0.130.${k}:9090/metrics`);
  const curl = /curl -H 'Host: ([^']+)' (http:\/\/127\.0\.130\.3:8012\/)/.exec(out);
  t.ok(curl, 'a curl line for node3');
  const [, host, url] = curl!;

  let body = '';
  while (Date.now() < deadline) {
    const res = await request(url!, { headers: { host: host! } });
    body = await res.body.text();
    if (res.statusCode === 200) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  t.match(body, /^Konnichiwa from hello-node3-[a-z0-9]{5} in node3\n$/, 'the node3 curl is answered by a node3 pod');

  const started = descendants(demo.pid!);
  t.ok(started.length >= 6, `the demo runs its proxies and pods (${started.length} processes)`);
  demo.kill('SIGINT');
  t.equal(await exited, 0, 'the demo exits 0 after Ctrl-C');
  t.match(out, /Stopped in \d+\.\d s\./);
  for (const pid of started) t.notOk(alive(pid), `process ${pid} is gone`);
});

t.test('a parent that dies without a signal (npm SIGKILLed) still leaves nothing behind', { timeout: 115_000 }, async (t) => {
  // The parent: a Node process that starts the demo on the same pipes and then only waits.
  const parentScript = `require('node:child_process').spawn(process.execPath, ${JSON.stringify([DEMO, '--offset', '120', '--ready-timeout', '100s'])}, { stdio: 'inherit' }); setInterval(() => {}, 1e9);`;
  const parent = spawn(process.execPath, ['-e', parentScript], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  parent.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  parent.stderr.resume();
  t.teardown(() => {
    if (parent.exitCode === null) parent.kill('SIGKILL');
  });
  const deadline = Date.now() + 105_000;
  while (!out.includes('Ctrl-C stops everything') && parent.exitCode === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  t.match(out, /Ctrl-C stops everything/, 'the demo is up');
  const started = descendants(parent.pid!);
  t.ok(started.length >= 5, `the demo, its proxies and controller (${started.length} processes)`);

  parent.kill('SIGKILL');
  while (started.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const pid of started) t.notOk(alive(pid), `process ${pid} is gone`);
});
