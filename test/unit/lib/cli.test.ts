import t from 'tap';
import { parseArgs, parseListen, envName, type FlagSpec } from '../../../lib/cli.ts';

const specs: FlagSpec[] = [
  { name: 'node-name', type: 'string', help: 'node', required: true },
  { name: 'listen', type: 'listen', help: 'listen', default: '0.0.0.0:8012' },
  { name: 'drain-grace', type: 'duration', help: 'grace', default: '5s' },
  { name: 'balancer', type: 'enum', help: 'b', default: 'least-cost', choices: ['least-cost', 'random'] },
  { name: 'max-queued', type: 'int', help: 'q' },
];

t.test('flag beats env beats default', async (t) => {
  const env = { IKUKANTAI_NODE_NAME: 'env-node', IKUKANTAI_DRAIN_GRACE: '2s' };
  const a = parseArgs(specs, ['--node-name', 'flag-node'], env);
  t.equal(a.values['node-name'], 'flag-node');
  t.equal(a.values['drain-grace'], 2000);
  t.same(a.values['listen'], { host: '0.0.0.0', port: 8012 });
  const b = parseArgs(specs, ['--drain-grace=1m'], env);
  t.equal(b.values['node-name'], 'env-node');
  t.equal(b.values['drain-grace'], 60_000);
  t.equal(b.values['max-queued'], undefined);
});

t.test('bad input is a UsageError with one line', async (t) => {
  const cases: string[][] = [
    ['--nope', 'x'],
    ['--node-name'],
    ['positional'],
    ['--node-name', 'n', '--balancer', 'fastest'],
    ['--node-name', 'n', '--max-queued', '-3'],
    ['--node-name', 'n', '--listen', 'nohost'],
    [],
  ];
  for (const argv of cases) {
    t.throws(() => parseArgs(specs, argv, {}), { code: 'usage' }, argv.join(' '));
    try {
      parseArgs(specs, argv, {});
    } catch (err) {
      t.notMatch((err as Error).message, /\n/);
    }
  }
});

t.test('help and names', async (t) => {
  t.equal(parseArgs(specs, ['--help'], {}).help, true);
  t.equal(envName('stats-token-file'), 'IKUKANTAI_STATS_TOKEN_FILE');
  t.same(parseListen(':8014'), { host: '0.0.0.0', port: 8014 });
  t.same(parseListen('[::1]:80'), { host: '::1', port: 80 });
});
