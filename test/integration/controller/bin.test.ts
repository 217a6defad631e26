import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../controller/bin.ts', import.meta.url));
const run = (args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20_000, env: { PATH: process.env['PATH'] } });

t.test('--help lists flags and env names, exit 0', async (t) => {
  const r = run(['--help']);
  t.equal(r.status, 0);
  t.match(r.stdout, /--stats-token-file {2}\[IKUKANTAI_STATS_TOKEN_FILE\]/);
  t.match(r.stdout, /--pod-cap-per-node/);
});

t.test('bad input exits 2 with exactly one stderr line', async (t) => {
  for (const args of [[], ['--bogus', '1'], ['--stats-token-file', '/nonexistent/token']]) {
    const r = run(args);
    t.equal(r.status, 2, args.join(' '));
    t.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    t.equal(r.stdout, '');
  }
});
