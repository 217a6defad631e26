import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../controller/bin.ts', import.meta.url));
const run = (args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env['PATH'] } });

// A shared machine at load 20+ takes seconds per Node start.
t.setTimeout(240_000);

t.test('--help lists flags and env names, exit 0', async (t) => {
  const r = run(['--help']);
  t.equal(r.status, 0);
  t.match(r.stdout, /--stats-token-file {2}\[IKUKANTAI_STATS_TOKEN_FILE\]/);
  t.match(r.stdout, /--pod-cap-per-node/);
});

t.test('bad input exits 2 with exactly one stderr line', async (t) => {
  const token = join(mkdtempSync(join(tmpdir(), 'controller-bin-')), 'token');
  writeFileSync(token, 'tok\n');
  const cases = [
    [],
    ['--bogus', '1'],
    ['--stats-token-file', '/nonexistent/token'],
    // Valid flags, but a kubeconfig client-node can't load: still one line, exit 2.
    ['--stats-token-file', token, '--kubeconfig', '/dev/null', '--listen', '127.0.90.1:0', '--admin-listen', '127.0.90.1:0'],
  ];
  for (const args of cases) {
    const r = run(args);
    t.equal(r.status, 2, args.join(' '));
    t.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    t.equal(r.stdout, '');
  }
});
