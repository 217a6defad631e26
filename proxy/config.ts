// The proxy's command line (DESIGN.md §2 "Command line"). Every flag also reads env
// IKUKANTAI_<FLAG>; a bad flag, value or start-up file exits 2 with one stderr line.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { UsageError, type FlagSpec, type Listen } from '../lib/cli.ts';
import { isLevel, type Level } from '../lib/log.ts';
import { BALANCERS, type BalancerKind } from './balance/picker.ts';

export const PROXY_FLAGS: readonly FlagSpec[] = [
  { name: 'endpoints', type: 'string', help: 'static endpoints file (JSON or YAML); without it the proxy runs in Kubernetes mode' },
  { name: 'kubeconfig', type: 'string', help: 'kubeconfig for Kubernetes mode (default: in-cluster config)' },
  { name: 'node-name', type: 'string', help: "this proxy's node", required: true },
  { name: 'listen', type: 'listen', help: 'HTTP/1.1 ingress listener', default: '0.0.0.0:8012' },
  { name: 'peer-listen', type: 'listen', help: 'listener for peer hops from other proxies', default: ':8014' },
  { name: 'admin-listen', type: 'listen', help: 'admin listener: /metrics /healthz /readyz', default: ':9090' },
  { name: 'node-address', type: 'string', help: 'source address of upstream and peer connections (default: OS choice)' },
  { name: 'upstream-port-name', type: 'string', help: 'EndpointSlice port to send to', default: 'http' },
  { name: 'peer-service', type: 'string', help: 'NS/NAME of the Service whose EndpointSlices list the peer proxies', default: 'ikukantai-system/ikukantai-proxy' },
  { name: 'balancer', type: 'enum', help: 'how to pick a pod', default: 'least-cost', choices: BALANCERS },
  { name: 'controller', type: 'url', help: 'controller base URL for stats (without it no stats are sent)' },
  { name: 'stats-token-file', type: 'string', help: 'file holding the bearer token sent with stats' },
  { name: 'cold-start-timeout', type: 'duration', help: 'longest wait for a first ready pod (capped by the revision timeout)', default: '60s' },
  { name: 'drain-grace', type: 'duration', help: 'after SIGTERM, time still serving new requests', default: '5s' },
  { name: 'max-queued', type: 'int', help: 'per-revision queue bound (default max(100, 10 x cc x local pods); 100 when cc = 0)' },
  { name: 'rtt-file', type: 'string', help: "node RTT prior in Kubernetes mode (the static file's rtt format)" },
  { name: 'log-level', type: 'enum', help: 'log level', default: 'info', choices: ['debug', 'info', 'warn', 'error'] },
  // Bench knobs beyond DESIGN.md: `npm run bench -- coldstart` sets them to Knative's values
  // (no poke, stats every 1 s, readiness every 200 ms) to compare against ours.
  { name: 'readiness-interval', type: 'duration', help: 'probe period of new local pods until one passes (Knative probes every 200ms)', default: '25ms' },
  { name: 'stats-interval', type: 'duration', help: 'period of the stats reports to the controller', default: '1s' },
  {
    name: 'cold-start-poke',
    type: 'enum',
    help: 'poke the controller at once on a cold request (false: it learns at the next stats report)',
    default: 'true',
    choices: ['true', 'false'],
  },
];

export interface ProxyConfig {
  endpoints?: string;
  kubeconfig?: string;
  nodeName: string;
  listen: Listen;
  peerListen: Listen;
  adminListen: Listen;
  nodeAddress?: string;
  upstreamPortName: string;
  peerService: string;
  balancer: BalancerKind;
  controller?: string;
  statsToken?: string;
  coldStartTimeoutMs: number;
  drainGraceMs: number;
  maxQueued?: number;
  rttFile?: string;
  logLevel: Level;
  readinessIntervalMs: number;
  statsIntervalMs: number;
  coldStartPoke: boolean;
}

/** Turns parsed flag values into a checked config; reads the token file. Throws UsageError. */
export function buildProxyConfig(v: Record<string, unknown>): ProxyConfig {
  const nodeAddress = v['node-address'] as string | undefined;
  if (nodeAddress !== undefined && isIP(nodeAddress) === 0) throw new UsageError(`--node-address must be an IP address, got "${nodeAddress}"`);
  const peerService = v['peer-service'] as string;
  if (!/^[a-z0-9-]+\/[a-z0-9-]+$/.test(peerService)) throw new UsageError(`--peer-service must be NS/NAME, got "${peerService}"`);
  if (v['endpoints'] !== undefined && v['kubeconfig'] !== undefined) throw new UsageError('--endpoints and --kubeconfig exclude each other');
  const controller = v['controller'] as string | undefined;
  const tokenFile = v['stats-token-file'] as string | undefined;
  if (controller !== undefined && tokenFile === undefined) throw new UsageError('--controller needs --stats-token-file');
  let statsToken: string | undefined;
  if (tokenFile !== undefined) {
    try {
      statsToken = readFileSync(tokenFile, 'utf8').trim();
    } catch (err) {
      throw new UsageError(`cannot read --stats-token-file ${tokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (statsToken === '') throw new UsageError(`--stats-token-file ${tokenFile} is empty`);
  }
  // Zero would probe or report in a busy loop (and the prober and reporter refuse it).
  for (const name of ['readiness-interval', 'stats-interval']) {
    if (!((v[name] as number) > 0)) throw new UsageError(`--${name} must be above 0`);
  }
  const level = v['log-level'] as string;
  return {
    endpoints: v['endpoints'] as string | undefined,
    kubeconfig: v['kubeconfig'] as string | undefined,
    nodeName: v['node-name'] as string,
    listen: v['listen'] as Listen,
    peerListen: v['peer-listen'] as Listen,
    adminListen: v['admin-listen'] as Listen,
    nodeAddress,
    upstreamPortName: v['upstream-port-name'] as string,
    peerService,
    balancer: v['balancer'] as BalancerKind,
    controller,
    statsToken,
    coldStartTimeoutMs: v['cold-start-timeout'] as number,
    drainGraceMs: v['drain-grace'] as number,
    maxQueued: v['max-queued'] as number | undefined,
    rttFile: v['rtt-file'] as string | undefined,
    logLevel: isLevel(level) ? level : 'info',
    readinessIntervalMs: v['readiness-interval'] as number,
    statsIntervalMs: v['stats-interval'] as number,
    coldStartPoke: v['cold-start-poke'] === 'true',
  };
}
