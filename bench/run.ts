// The benchmark entry: `npm run bench -- <scenario> [flags]`, `npm run bench -- --help`. Benchmarks
// are not part of `npm test`: they take minutes, need idle CPUs, and report ratios rather than pass
// or fail (except a scenario's "must" figures, which set exit code 1). Registering a scenario is one
// line in SCENARIOS; its module loads only when chosen.

import { UsageError } from '../lib/cli.ts';
import type { Scenario } from './support/scenario.ts';

const SCENARIOS: Record<string, Scenario> = {
  overhead: { about: 'direct vs our proxy vs minimal undici proxy, nginx, http-proxy: req/s, latency, CPU µs/request', load: async () => (await import('./scenarios/overhead.ts')).runOverhead },
  edge: { about: 'three proxies over the 1/50 ms edge topology: each balancer vs the oracle, entering at node3 and node1', load: async () => (await import('./scenarios/edge.ts')).runEdge },
  coldstart: { about: 'repeated cold starts at node3 split into poke → patch → pod start → ready → forwarded, ours vs Knative-like', load: async () => (await import('./scenarios/coldstart.ts')).runColdstart },
  memory: { about: 'proxy RSS idle (static/Kubernetes mode, .ts/compiled) and with 10 000 requests queued', load: async () => (await import('./scenarios/memory.ts')).runMemory },
  pick: { about: 'picks/s of each balancer at 10, 100 and 10 000 pods (micro-benchmark)', load: async () => (await import('./micro/pick.ts')).runPick },
};

function help(): string {
  const width = Math.max(...Object.keys(SCENARIOS).map((n) => n.length));
  return [
    'Usage: npm run bench -- <scenario> [flags]    (npm run bench -- <scenario> --help for its flags)',
    '',
    'Scenarios:',
    ...Object.entries(SCENARIOS).map(([name, s]) => `  ${name.padEnd(width)}  ${s.about}`),
    '',
    'Results: a table on stdout and JSON in bench/results/<scenario>-<timestamp>.json (+ -latest.json).',
    '',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h') {
    process.stdout.write(help());
    return 0;
  }
  if (name === undefined) throw new UsageError(`name a scenario (one of: ${Object.keys(SCENARIOS).join(', ')}; see --help)`);
  const scenario = SCENARIOS[name];
  if (!scenario) throw new UsageError(`unknown scenario "${name}" (one of: ${Object.keys(SCENARIOS).join(', ')})`);
  const run = await scenario.load();
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
