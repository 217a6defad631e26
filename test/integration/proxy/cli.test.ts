// The `ikukantai-proxy` command line as users meet it (DESIGN.md §2 "Command line", "Ports"): the
// real bin as a child process. Every start-up problem exits 2 with exactly one stderr line and
// nothing on stdout; flags beat env; the static mode is ready fast; admin paths stay off 8012/8014.

import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { EndpointsFile, eventually, helloRevision } from '../../support/proxy-harness.ts';

// Loopback range for this file: 127.0.36.x
const H = '127.0.36.1';
const BIN = fileURLToPath(new URL('../../../proxy/bin.ts', import.meta.url));

/** DESIGN.md §2's proxy flag table: --help must list each with its env name. */
const DESIGN_FLAGS = [
  'endpoints', 'kubeconfig', 'node-name', 'listen', 'peer-listen', 'admin-listen', 'node-address',
  'upstream-port-name', 'peer-service', 'balancer', 'controller', 'stats-token-file',
  'cold-start-timeout', 'drain-grace', 'max-queued', 'rtt-file', 'log-level',
];

const file = new EndpointsFile({ revisions: [helloRevision([{ address: '127.0.36.2', port: 8080, node: 'node1' }])] });
const listeners = [`--listen=${H}:0`, `--peer-listen=${H}:0`, `--admin-listen=${H}:0`];

/** The parent's env without any IKUKANTAI_* (so the test's own env can't leak into the child). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('IKUKANTAI_')) env[k] = v;
  return { ...env, ...extra };
}

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the bin to its exit (bounded: a child still running after 20 s is killed and reported). */
async function runToExit(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Promise<Finished> {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(kill);
  return { code, stdout, stderr };
}

const exit2Cases: Array<[string, string[], NodeJS.ProcessEnv?, RegExp?]> = [
  ['an unknown flag', ['--node-name', 'node1', '--no-such-flag', 'x'], undefined, /unknown flag --no-such-flag/],
  ['a flag without its value', ['--node-name'], undefined, /--node-name needs a value/],
  ['a bad enum value', ['--node-name', 'node1', '--balancer', 'fastest', '--endpoints', file.path], undefined, /--balancer must be one of/],
  ['a bad duration', ['--node-name', 'node1', '--drain-grace', 'soon', '--endpoints', file.path], undefined, /soon/],
  ['a bad listen address', ['--node-name', 'node1', '--listen', 'nowhere', '--endpoints', file.path], undefined, /listen address/],
  ['a bad value from env', ['--node-name', 'node1', '--endpoints', file.path], cleanEnv({ IKUKANTAI_MAX_QUEUED: 'many' }), /--max-queued/],
  ['no --node-name', ['--endpoints', file.path], undefined, /--node-name is required.*IKUKANTAI_NODE_NAME/],
  ['a missing endpoints file', ['--node-name', 'node1', '--endpoints', file.path + '.missing', ...listeners], undefined, /ENOENT|no such file|cannot read/i],
  ['an endpoints file without a namespace', ['--node-name', 'node1', '--endpoints', badFile(), ...listeners], undefined, /namespace/],
  ['--insecure-http-parser in NODE_OPTIONS', ['--node-name', 'node1', '--endpoints', file.path, ...listeners],
    cleanEnv({ NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --insecure-http-parser`.trim() }), /insecure-http-parser/],
];

function badFile(): string {
  const path = file.path.replace(/endpoints\.yaml$/, 'bad.yaml');
  writeFileSync(path, 'revisions:\n  - name: hello-00001\n    endpoints: []\n');
  return path;
}

t.test('start-up problems exit 2 with exactly one stderr line and nothing on stdout', async (t) => {
  for (const [name, args, env, says] of exit2Cases) {
    const r = await runToExit(args, env);
    t.equal(r.code, 2, `${name}: exit 2`);
    t.match(r.stderr, /^[^\n]+\n$/, `${name}: exactly one stderr line`);
    if (says) t.match(r.stderr, says, `${name}: says what is wrong (${r.stderr.trim()})`);
    t.equal(r.stdout, '', `${name}: nothing on stdout`);
  }
});

t.test('--help exits 0 and lists every flag with its env name', async (t) => {
  const r = await runToExit(['--help']);
  t.equal(r.code, 0);
  t.equal(r.stderr, '');
  for (const flag of DESIGN_FLAGS) {
    const env = 'IKUKANTAI_' + flag.toUpperCase().replaceAll('-', '_');
    t.match(r.stdout, new RegExp(`--${flag}\\b.*\\b${env}\\b`), `--${flag} with ${env}`);
  }
  const listed = [...r.stdout.matchAll(/^\s+--([a-z-]+)/gm)].map((m) => m[1]);
  t.same(listed.sort(), [...DESIGN_FLAGS].sort(), 'no flag the design does not know');
});

interface Running {
  child: ChildProcess;
  logs: Array<Record<string, unknown>>;
  ingress: number;
  peer: number;
  admin: number;
}

/** Starts the bin and waits for its proxy_started line (ports from it, as the listeners use port 0). */
async function start(t: Test, args: string[], env: NodeJS.ProcessEnv): Promise<Running> {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited;
  });
  const logs: Array<Record<string, unknown>> = [];
  let partial = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const line of lines) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const started = (): Record<string, unknown> | undefined => logs.find((l) => l['event'] === 'proxy_started');
  await eventually(() => started() !== undefined || child.exitCode !== null, 20_000);
  const line = started();
  if (!line) throw new Error(`proxy did not start (exit ${child.exitCode}): ${stderr}`);
  const port = (name: string): number => Number(new RegExp(`${name} [^,]*:(\\d+)`).exec(String(line['msg']))![1]);
  return { child, logs, ingress: port('ingress'), peer: port('peer'), admin: port('admin') };
}

t.test('env IKUKANTAI_NODE_NAME names the node; a flag beats its env', async (t) => {
  const byEnv = await start(t, ['--endpoints', file.path, ...listeners], cleanEnv({ IKUKANTAI_NODE_NAME: 'edge-7' }));
  t.equal(byEnv.logs[0]?.['node'], 'edge-7', 'node from env');
  const byFlag = await start(
    t,
    ['--endpoints', file.path, '--node-name', 'node1', '--balancer', 'random', ...listeners],
    // Both env values would be refused on their own (edge-7 ≠ any flag, "fastest" is no balancer).
    cleanEnv({ IKUKANTAI_NODE_NAME: 'edge-7', IKUKANTAI_BALANCER: 'fastest' }),
  );
  t.ok(byFlag.logs.length > 0 && byFlag.logs.every((l) => l['node'] === 'node1'), 'node from the flag');
  const metrics = await (await request(`http://${H}:${byFlag.admin}/metrics`)).body.text();
  t.match(metrics, /node="node1"/, 'metrics carry the flag\'s node');
  t.notMatch(metrics, /edge-7/);
});

t.test('static mode: /readyz turns 200 shortly after start; admin paths are not served on 8012/8014', async (t) => {
  const startedAt = Date.now();
  const p = await start(t, ['--endpoints', file.path, '--node-name', 'node1', ...listeners], cleanEnv());
  let status = 0;
  // DESIGN.md: ready within 2 s of start. Polled with a wide deadline so a loaded CI box can't flake;
  // the time is logged for the reader rather than asserted.
  const ready = await eventually(async () => {
    const r = await request(`http://${H}:${p.admin}/readyz`);
    status = r.statusCode;
    await r.body.text();
    return status === 200;
  }, 15_000, 25);
  t.ok(ready, `/readyz answered ${status}`);
  t.comment(`/readyz 200 after ${Date.now() - startedAt} ms from spawn`);
  const healthz = await request(`http://${H}:${p.admin}/healthz`);
  t.equal(healthz.statusCode, 200);
  await healthz.body.text();

  for (const [listener, port] of [['ingress', p.ingress], ['peer', p.peer]] as const) {
    for (const path of ['/metrics', '/healthz', '/readyz']) {
      const r = await request(`http://${H}:${port}${path}`);
      t.equal(r.statusCode, 404, `${listener} ${path}: routed like any request`);
      t.equal(r.headers['ikukantai-error'], 'no_route', `${listener} ${path}: no_route`);
      t.notMatch(await r.body.text(), /ikukantai_proxy/, `${listener} ${path}: no metrics text`);
    }
  }
});
