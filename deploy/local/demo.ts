// `npm start`: the emulated three-node edge cluster on this machine (DESIGN.md §5), no Kubernetes
// needed. Prints what to curl at each node, where each /metrics is, and the kubeconfig for kubectl;
// Ctrl-C or SIGTERM stops everything within 10 s and leaves no process behind.

import { fileURLToPath } from 'node:url';
import { parseArgs, usage, exitUsage, UsageError, type FlagSpec } from '../../lib/cli.ts';
import { createLogger } from '../../lib/log.ts';
import { startCluster, type Cluster } from './cluster.ts';
import { clusterScrapeTargets, startPrometheus, type Prometheus } from './prometheus.ts';
import { loadTopology, TopologyError } from './topology.ts';

const FLAGS: readonly FlagSpec[] = [
  { name: 'topology', type: 'string', help: 'topology file: nodes, RTTs, demo revision, pod behaviour (default: deploy/local/topology.yaml)' },
  { name: 'offset', type: 'int', help: 'added to the third octet of every address (0 = the documented layout)', default: '0' },
  // Not `--controller`: its env name IKUKANTAI_CONTROLLER is the proxies' controller URL.
  { name: 'with-controller', type: 'enum', choices: ['on', 'off'], help: 'run the scaling controller (on: the demo starts with no pod; off: one pod per node)', default: 'on' },
  { name: 'ready-timeout', type: 'duration', help: 'longest wait for proxies and pods to be ready', default: '60s' },
  { name: 'log-level', type: 'enum', choices: ['debug', 'info', 'warn', 'error'], help: "the demo's own log level (children log to files)", default: 'warn' },
];

function banner(c: Cluster, prom: Prometheus | undefined): string {
  const far = c.nodes[c.nodes.length - 1]!;
  const lines = [
    '',
    `Emulated edge cluster up: ${c.nodes.length} nodes (${c.topology.nodes.join(', ')}), RTT from ${far.name}: ` +
      c.nodes.filter((n) => n !== far).map((n) => `${n.name} ${c.topology.rtt.get(far.name)!.get(n.name)} ms`).join(', '),
    '',
    `Send a request into any node (each answer names the pod and node that served it):`,
    ...c.nodes.map((n) => `  curl -H 'Host: ${c.host}' ${n.ingressUrl}/`),
    '',
    'Metrics:',
    ...c.nodes.map((n) => `  ${n.name}  ${n.metricsUrl}`),
    ...(c.controller ? [`  controller  ${c.controller.adminUrl}/metrics`] : []),
    prom ? `  Prometheus  ${prom.url} (scrapes every proxy and the controller each second)` : '  Prometheus  not installed (apt-get install prometheus), skipped',
    '',
    'kubectl against the fake API server:',
    `  export KUBECONFIG=${c.kubeconfigPath}`,
    '  kubectl get seikas,pods,endpointslices -A -o wide',
    `  kubectl get seika ${c.topology.demo.seika} -o jsonpath='{.status.ready}'`,
    ...(c.controller
      ? [`  (the controller owns spec.repurika; send traffic to change it)`]
      : [`  kubectl patch seika ${c.topology.demo.seika} --type merge -p '{"spec":{"repurika":{"${far.name}":2}}}'`]),
    '',
    `Logs of the proxies${c.controller ? ' and the controller' : ''}: ${c.dir}/logs/`,
    'Ctrl-C stops everything.',
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  let values;
  try {
    const parsed = parseArgs(FLAGS, process.argv.slice(2));
    if (parsed.help) {
      process.stdout.write(usage('npm start --', 'Runs the emulated edge cluster (fake API, node agents, proxies).', FLAGS));
      return;
    }
    values = parsed.values;
  } catch (err) {
    if (err instanceof UsageError) exitUsage(err.message);
    throw err;
  }
  let topology;
  try {
    topology = await loadTopology((values.topology as string | undefined) ?? fileURLToPath(new URL('./topology.yaml', import.meta.url)));
  } catch (err) {
    if (err instanceof TopologyError) exitUsage(err.message);
    throw err;
  }
  const logger = createLogger({ node: 'demo', level: values['log-level'] as 'warn' });
  // Signals that arrive while starting stop the start-up too.
  let stop: (() => void) | undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => stop!());
  // A parent that dies without signalling us (npm SIGKILLed) would leave the cluster running under
  // init; the children's lifelines only watch this process, so this process watches its parent.
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && stop!(), 1000).unref();

  process.stdout.write('Starting the emulated cluster (fake API, node agents, pods, proxies)…\n');
  const starting = startCluster({
    topology,
    offset: values.offset as number,
    withController: values['with-controller'] === 'on',
    readyTimeoutMs: values['ready-timeout'] as number,
    logger,
  });
  const first = await Promise.race([starting.then((c) => ({ c })), stopped.then(() => undefined)]);
  if (!first) {
    process.stdout.write('Stopping…\n');
    await starting.then((c) => c.close()).catch(() => {});
    return;
  }
  const cluster = first.c;
  // Prometheus is optional: the demo runs without it, and says how to get it.
  const prom = await startPrometheus({ listen: cluster.addresses.prometheus, targets: clusterScrapeTargets(cluster.addresses) }).catch(
    (err: Error) => {
      logger.warn('prometheus_failed', { msg: err.message });
      return undefined;
    },
  );
  process.stdout.write(banner(cluster, prom));
  await stopped;
  process.stdout.write('Stopping…\n');
  const started = Date.now();
  await Promise.all([cluster.close(), prom?.close()]);
  process.stdout.write(`Stopped in ${((Date.now() - started) / 1000).toFixed(1)} s.\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(1);
});
