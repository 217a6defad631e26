import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controllerUsage, loadControllerConfig } from '../../../controller/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'controller-config-'));
const tokenFile = join(dir, 'token');
writeFileSync(tokenFile, '  tok-123\n');
const kubeconfig = join(dir, 'kubeconfig');
writeFileSync(kubeconfig, 'apiVersion: v1\n');
const rttFile = join(dir, 'rtt.yaml');
writeFileSync(rttFile, 'rtt:\n  node1: { node3: 50 }\n');

t.test('defaults of DESIGN.md §2 and §4, token trimmed, rtt mirrored', async (t) => {
  const c = loadControllerConfig(['--stats-token-file', tokenFile, '--rtt-file', rttFile], { KUBERNETES_SERVICE_HOST: '10.96.0.1' });
  if (c === 'help') throw new Error('unexpected help');
  t.equal(c.statsToken, 'tok-123');
  t.same(c.listen, { host: '0.0.0.0', port: 8080 });
  t.same(c.adminListen, { host: '0.0.0.0', port: 9090 });
  t.equal(c.stableWindowMs, 60_000);
  t.equal(c.scaleToZeroGraceMs, 30_000);
  t.equal(c.podCapPerNode, 10);
  t.equal(c.leaseNamespace, 'ikukantai-system');
  t.equal(c.leaseDurationMs, 15_000);
  t.equal(c.rtt.get('node3')?.get('node1'), 50);
  t.equal(c.advertiseUrl, undefined);
  t.equal(c.kubeconfig, undefined, 'in-cluster config');
});

t.test('env fills in, flags win', async (t) => {
  const c = loadControllerConfig(['--stable-window', '10s'], {
    IKUKANTAI_STATS_TOKEN_FILE: tokenFile,
    IKUKANTAI_KUBECONFIG: kubeconfig,
    IKUKANTAI_STABLE_WINDOW: '30s',
    IKUKANTAI_ADVERTISE_URL: 'http://10.0.0.7:8080/',
  });
  if (c === 'help') throw new Error('unexpected help');
  t.equal(c.stableWindowMs, 10_000);
  t.equal(c.advertiseUrl, 'http://10.0.0.7:8080');
  t.equal(c.kubeconfig, kubeconfig);
});

t.test('bad input: one-line UsageError', async (t) => {
  const ok = ['--kubeconfig', kubeconfig];
  const cases: string[][] = [
    [],
    ['--stats-token-file', tokenFile],
    ['--stats-token-file', tokenFile, '--kubeconfig', join(dir, 'missing')],
    ['--stats-token-file', join(dir, 'missing')],
    ['--stats-token-file', tokenFile, '--stable-window', '500ms'],
    ['--stats-token-file', tokenFile, '--stable-window', '2h'],
    ['--stats-token-file', tokenFile, '--pod-cap-per-node', '0'],
    ['--stats-token-file', tokenFile, '--lease-duration', '100ms'],
    ['--stats-token-file', tokenFile, '--rtt-file', tokenFile],
    ['--stats-token-file', tokenFile, '--advertise-url', 'ftp://x'],
  ];
  const empty = join(dir, 'empty');
  writeFileSync(empty, ' \n');
  cases.push(['--stats-token-file', empty]);
  for (const [i, argv] of cases.entries()) {
    try {
      // From the fourth case on, everything else is valid: only the named flag is bad.
      loadControllerConfig(i >= 3 ? [...ok, ...argv] : argv, {});
      t.fail(`accepted ${argv.join(' ')}`);
    } catch (err) {
      t.equal((err as { code?: string }).code, 'usage', argv.join(' '));
      t.notMatch((err as Error).message, /\n/);
    }
  }
  t.equal(loadControllerConfig(['--help'], {}), 'help');
  t.match(controllerUsage(), /IKUKANTAI_STATS_TOKEN_FILE/);
});
