// ManagedProcess: readiness wait, a clean stop, an early exit reported with its stderr line, and
// the lifeline — a child whose parent is SIGKILLed drains itself instead of lingering.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedProcess } from '../../../deploy/local/managed-process.ts';
import { until as waitUntil } from '../../support/until.ts';
import { alive } from '../../support/alive.ts';

const MANAGED = new URL('../../../deploy/local/managed-process.ts', import.meta.url).href;

// A child that serves 200 on 127.0.145.1:<port>, and says so in its log when SIGTERM drains it.
const SERVER = `
import http from 'node:http';
const server = http.createServer((req, res) => res.end('ok')).listen(Number(process.argv[2]), '127.0.145.1');
process.on('SIGTERM', () => { console.log('drained'); server.close(); });
`;

// This file's waits are longer than the shared default.
const until = (what: string, cond: () => boolean | Promise<boolean>, deadlineMs = 20_000): Promise<void> =>
  waitUntil(what, cond, deadlineMs);

t.test('ready, stopped, and an early exit explains itself', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'managed-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'server.mjs'), SERVER);
  const p = new ManagedProcess({ name: 'server', script: join(dir, 'server.mjs'), args: ['18401'], logFile: join(dir, 'server.log') });
  await p.waitReady('http://127.0.145.1:18401/', 20_000);
  t.ok(p.running);
  await p.stop(5000);
  t.notOk(p.running);
  t.match(await readFile(join(dir, 'server.log'), 'utf8'), /drained/, 'SIGTERM reached the child, its stdout is in the log');

  await writeFile(join(dir, 'bad.mjs'), `process.stderr.write('error: --foo is wrong\\n'); process.exit(2);`);
  const bad = new ManagedProcess({ name: 'bad', script: join(dir, 'bad.mjs'), args: [], logFile: join(dir, 'bad.log') });
  await t.rejects(bad.waitReady('http://127.0.145.1:18402/', 20_000), /bad exited before it was ready: error: --foo is wrong/);
  t.equal(await bad.exited, 2);
  await bad.stop(1000);
});

t.test('a child outlives no SIGKILLed parent', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'managed-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'server.mjs'), SERVER);
  await writeFile(
    join(dir, 'parent.ts'),
    `import { ManagedProcess } from ${JSON.stringify(MANAGED)};
const p = new ManagedProcess({ name: 'server', script: ${JSON.stringify(join(dir, 'server.mjs'))}, args: ['18403'], logFile: ${JSON.stringify(join(dir, 'child.log'))} });
await p.waitReady('http://127.0.145.1:18403/', 20_000);
console.log(p.pid);
setInterval(() => {}, 1000);
`,
  );
  const parent = spawn(process.execPath, [join(dir, 'parent.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => {
    if (parent.exitCode === null) parent.kill('SIGKILL');
  });
  let out = '';
  parent.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  await until('the child pid', () => /^\d+\n/.test(out));
  const child = Number(out.trim());
  t.ok(alive(child), 'child running');
  parent.kill('SIGKILL');
  // Nothing else signals it: without the lifeline it would serve forever.
  await until('the orphaned child to exit', () => !alive(child));
  t.pass('the orphan stopped itself');
});
