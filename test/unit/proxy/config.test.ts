// The proxy's bench knobs beyond DESIGN.md (README "Running the proxy"): defaults are the design's
// figures (readiness 25 ms, stats 1 s, poke on), the cold-start bench's Knative baseline parses,
// and values that would spin or mean nothing are refused as usage errors (exit 2 in the bin).

import t from 'tap';
import { parseArgs, UsageError } from '../../../lib/cli.ts';
import { buildProxyConfig, PROXY_FLAGS } from '../../../proxy/config.ts';

const config = (...argv: string[]) => buildProxyConfig(parseArgs(PROXY_FLAGS, ['--node-name', 'node1', ...argv], {}).values);

t.test('defaults are the design figures', async (t) => {
  const c = config();
  t.equal(c.readinessIntervalMs, 25);
  t.equal(c.statsIntervalMs, 1000);
  t.equal(c.coldStartPoke, true);
});

t.test("the cold-start bench's Knative-like setting", async (t) => {
  const c = config('--readiness-interval', '200ms', '--stats-interval', '1s', '--cold-start-poke', 'false');
  t.equal(c.readinessIntervalMs, 200);
  t.equal(c.statsIntervalMs, 1000);
  t.equal(c.coldStartPoke, false);
});

t.test('env reads the knobs like every flag', async (t) => {
  const c = buildProxyConfig(
    parseArgs(PROXY_FLAGS, ['--node-name', 'n'], { IKUKANTAI_COLD_START_POKE: 'false', IKUKANTAI_READINESS_INTERVAL: '50ms' }).values,
  );
  t.equal(c.coldStartPoke, false);
  t.equal(c.readinessIntervalMs, 50);
});

t.test('bad values are usage errors naming the flag', async (t) => {
  t.throws(() => config('--readiness-interval', '0ms'), new UsageError('--readiness-interval must be above 0'));
  t.throws(() => config('--stats-interval', '0s'), new UsageError('--stats-interval must be above 0'));
  t.throws(() => config('--cold-start-poke', 'yes'), /--cold-start-poke must be one of true, false/);
  t.throws(() => config('--readiness-interval', 'fast'), /bad duration "fast"/);
});
