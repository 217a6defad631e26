// The `ikukantai-proxy` command line as users meet it (DESIGN.md §2 "Command line", "Ports"): the
// real bin as a child process. Every start-up problem exits 2 with exactly one stderr line and
// nothing on stdout; flags beat env; the static mode is ready fast; admin paths stay off 8012/8014.

import t from 'tap';
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { cleanEnv, runToExit as run, startProxyChild } from '../../support/bin-child.ts';
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
// Knobs beyond DESIGN.md for `npm run bench -- coldstart`, listed in the README's "Running the proxy".
const BENCH_FLAGS = ['readiness-interval', 'stats-interval', 'cold-start-poke'];

const file = new EndpointsFile({ revisions: [helloRevision([{ address: '127.0.36.2', port: 8080, node: 'node1' }])] });
const listeners = [`--listen=${H}:0`, `--peer-listen=${H}:0`, `--admin-listen=${H}:0`];

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
    const r = await run(BIN, args, { env });
    t.equal(r.code, 2, `${name}: exit 2`);
    t.match(r.stderr, /^[^\n]+\n$/, `${name}: exactly one stderr line`);
    if (says) t.match(r.stderr, says, `${name}: says what is wrong (${r.stderr.trim()})`);
    t.equal(r.stdout, '', `${name}: nothing on stdout`);
  }
});

t.test('--help exits 0 and lists every flag with its env name', async (t) => {
  const r = await run(BIN, ['--help']);
  t.equal(r.code, 0);
  t.equal(r.stderr, '');
  for (const flag of DESIGN_FLAGS) {
    const env = 'IKUKANTAI_' + flag.toUpperCase().replaceAll('-', '_');
    t.match(r.stdout, new RegExp(`--${flag}\\b.*\\b${env}\\b`), `--${flag} with ${env}`);
  }
  const listed = [...r.stdout.matchAll(/^\s+--([a-z-]+)/gm)].map((m) => m[1]);
  t.same(listed.sort(), [...DESIGN_FLAGS, ...BENCH_FLAGS].sort(), 'no flag the design (or the bench knobs) does not know');
  const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
  for (const flag of BENCH_FLAGS) t.match(readme, `\`--${flag}`, `bench knob --${flag} is in the README`);
});

t.test('env IKUKANTAI_NODE_NAME names the node; a flag beats its env', async (t) => {
  const byEnv = await startProxyChild(t, BIN, ['--endpoints', file.path, ...listeners], { env: cleanEnv({ IKUKANTAI_NODE_NAME: 'edge-7' }) });
  t.equal(byEnv.logs[0]?.['node'], 'edge-7', 'node from env');
  const byFlag = await startProxyChild(
    t,
    BIN,
    ['--endpoints', file.path, '--node-name', 'node1', '--balancer', 'random', ...listeners],
    // The env balancer alone would exit 2 ("fastest" is none): a given flag means env is not read.
    { env: cleanEnv({ IKUKANTAI_NODE_NAME: 'edge-7', IKUKANTAI_BALANCER: 'fastest' }) },
  );
  t.ok(byFlag.logs.length > 0 && byFlag.logs.every((l) => l['node'] === 'node1'), 'node from the flag');
  const metrics = await (await request(`http://${H}:${byFlag.admin}/metrics`)).body.text();
  t.match(metrics, /node="node1"/, 'metrics carry the flag\'s node');
  t.notMatch(metrics, /edge-7/);
});

t.test('static mode: /readyz turns 200 shortly after start; admin paths are not served on 8012/8014', async (t) => {
  const startedAt = Date.now();
  const p = await startProxyChild(t, BIN, ['--endpoints', file.path, '--node-name', 'node1', ...listeners]);
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
