// The controller's command line (DESIGN.md §2 controller table, §4 autoscaler and Lease flags).
// Every flag also reads env IKUKANTAI_*; a bad flag, value or start-up file is a UsageError, which
// the bin turns into one stderr line and exit 2. The token file is trimmed of surrounding whitespace.

import { accessSync, constants, readFileSync } from 'node:fs';
import { parseArgs, usage, UsageError, type FlagSpec, type Listen } from '../lib/cli.ts';
import { isLevel, type Level } from '../lib/log.ts';
import { readRttFile } from '../proxy/rtt-file.ts';

export const CONTROLLER_FLAGS: readonly FlagSpec[] = [
  { name: 'kubeconfig', type: 'string', help: 'kubeconfig file of the Kubernetes API; in-cluster config when unset' },
  { name: 'listen', type: 'listen', help: 'stats endpoint (POST /v1/stats)', default: '0.0.0.0:8080' },
  { name: 'admin-listen', type: 'listen', help: 'admin endpoint: /metrics, /healthz, /readyz', default: '0.0.0.0:9090' },
  { name: 'stats-token-file', type: 'string', help: 'file holding the bearer token the proxies send', required: true },
  { name: 'rtt-file', type: 'string', help: 'node RTT prior in ms ({node: {node: ms}}, optionally under an `rtt` key) until proxies report RTT' },
  {
    name: 'advertise-url',
    type: 'url',
    help: 'base URL other controller instances reach this one at (Lease holderIdentity); default http://<listen address>',
  },
  { name: 'stable-window', type: 'duration', help: 'autoscaler stable window (annotation autoscaling.knative.dev/window)', default: '60s' },
  {
    name: 'scale-to-zero-grace',
    type: 'duration',
    help: 'time a revision stays at one pod after the autoscaler wants zero',
    default: '30s',
  },
  { name: 'pod-cap-per-node', type: 'int', help: 'most pods of one Seika placed on one node; the rest overflow to the nearest node', default: '10' },
  { name: 'lease-namespace', type: 'string', help: 'namespace of the leader-election Lease', default: 'ikukantai-system' },
  { name: 'lease-name', type: 'string', help: 'name of the leader-election Lease', default: 'ikukantai-controller' },
  { name: 'lease-duration', type: 'duration', help: 'how long a leader holds the Lease without renewing it', default: '15s' },
  { name: 'log-level', type: 'enum', help: 'log level', default: 'info', choices: ['debug', 'info', 'warn', 'error'] },
];

export const CONTROLLER_SUMMARY =
  'The ikukantai scaling controller: takes per-node demand from the proxies, autoscales each revision\n' +
  'KPA-style and places its pods per node through the Seika custom resource.';

export interface ControllerConfig {
  kubeconfig?: string;
  listen: Listen;
  adminListen: Listen;
  statsToken: string;
  /** RTT prior in ms, symmetric. */
  rtt: Map<string, Map<string, number>>;
  /** Unset: derived from the bound stats address at start. */
  advertiseUrl?: string;
  stableWindowMs: number;
  scaleToZeroGraceMs: number;
  podCapPerNode: number;
  leaseNamespace: string;
  leaseName: string;
  leaseDurationMs: number;
  logLevel: Level;
}

// Knative accepts stable windows of 6 s to 1 h; we allow down to 1 s (one reconcile tick) so the
// emulated cluster's tests can run short windows.
const MIN_WINDOW_MS = 1000;
const MAX_WINDOW_MS = 3_600_000;

/** Parses argv/env into a config, or returns 'help'. Throws UsageError with one line on bad input. */
export function loadControllerConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ControllerConfig | 'help' {
  const { help, values: v } = parseArgs(CONTROLLER_FLAGS, argv, env);
  if (help) return 'help';
  const stableWindowMs = v['stable-window'] as number;
  if (stableWindowMs < MIN_WINDOW_MS || stableWindowMs > MAX_WINDOW_MS) {
    throw new UsageError(`--stable-window must be between 1s and 1h, got ${stableWindowMs}ms`);
  }
  const podCapPerNode = v['pod-cap-per-node'] as number;
  if (podCapPerNode < 1) throw new UsageError('--pod-cap-per-node must be at least 1');
  const leaseDurationMs = v['lease-duration'] as number;
  if (leaseDurationMs < 1000) throw new UsageError(`--lease-duration must be at least 1s, got ${leaseDurationMs}ms`);
  const kubeconfig = v['kubeconfig'] as string | undefined;
  if (kubeconfig !== undefined) {
    try {
      accessSync(kubeconfig, constants.R_OK);
    } catch (err) {
      throw new UsageError(`--kubeconfig ${kubeconfig}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  } else if (!env['KUBERNETES_SERVICE_HOST']) {
    throw new UsageError('not running in a cluster (KUBERNETES_SERVICE_HOST unset): pass --kubeconfig');
  }
  const rttFile = v['rtt-file'] as string | undefined;
  const logLevel = v['log-level'] as string;
  return {
    kubeconfig,
    listen: v['listen'] as Listen,
    adminListen: v['admin-listen'] as Listen,
    statsToken: readToken(v['stats-token-file'] as string),
    rtt: rttFile === undefined ? new Map() : readRtt(rttFile),
    advertiseUrl: (v['advertise-url'] as string | undefined)?.replace(/\/+$/, ''),
    stableWindowMs,
    scaleToZeroGraceMs: v['scale-to-zero-grace'] as number,
    podCapPerNode,
    leaseNamespace: v['lease-namespace'] as string,
    leaseName: v['lease-name'] as string,
    leaseDurationMs,
    logLevel: isLevel(logLevel) ? logLevel : 'info',
  };
}

export function controllerUsage(): string {
  return usage('ikukantai-controller', CONTROLLER_SUMMARY, CONTROLLER_FLAGS);
}

function readToken(path: string): string {
  let token: string;
  try {
    token = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new UsageError(`--stats-token-file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (token === '') throw new UsageError(`--stats-token-file ${path} is empty`);
  return token;
}

function readRtt(path: string): Map<string, Map<string, number>> {
  try {
    return readRttFile(path);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
