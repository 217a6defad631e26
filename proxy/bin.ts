#!/usr/bin/env node
// `ikukantai-proxy`: parses the command line, picks the endpoint source (static file, or
// Kubernetes informers imported only in that mode), starts the proxy and drains it on
// SIGTERM/SIGINT. Start-up problems exit 2 with exactly one line on stderr.

import { exitUsage, parseArgs, usage, UsageError } from '../lib/cli.ts';
import { createLogger } from '../lib/log.ts';
import { registerProcessMetrics } from '../lib/process-metrics.ts';
import type { EndpointSource } from '../lib/model.ts';
import { buildProxyConfig, PROXY_FLAGS, type ProxyConfig } from './config.ts';
import { createStaticSource } from './endpoints/static-source.ts';
import { startProxy } from './main.ts';
import { readRttFile } from './rtt-file.ts';

// DESIGN.md §2: Node's lenient parser would let smuggling shapes through; refuse to run with it.
if (process.execArgv.includes('--insecure-http-parser') || (process.env['NODE_OPTIONS'] ?? '').includes('--insecure-http-parser')) {
  exitUsage('refusing to start with --insecure-http-parser: the proxy must reject what RFC 9112 rejects');
}

let config: ProxyConfig;
try {
  const args = parseArgs(PROXY_FLAGS, process.argv.slice(2));
  if (args.help) {
    process.stdout.write(usage('ikukantai-proxy', 'Node-local data plane proxy: ingress :8012, peer hops :8014, admin :9090.', PROXY_FLAGS));
    process.exit(0);
  }
  config = buildProxyConfig(args.values);
} catch (err) {
  if (err instanceof UsageError) exitUsage(err.message);
  throw err;
}

const logger = createLogger({ node: config.nodeName, level: config.logLevel });

async function makeSource(c: ProxyConfig): Promise<EndpointSource> {
  if (c.endpoints !== undefined) return createStaticSource({ file: c.endpoints, nodeName: c.nodeName, logger });
  const { createKubeSource } = await import('./endpoints/kube-source.ts');
  return createKubeSource({
    kubeconfig: c.kubeconfig,
    nodeName: c.nodeName,
    upstreamPortName: c.upstreamPortName,
    peerService: c.peerService,
    logger,
  });
}

try {
  const rtt = config.rttFile !== undefined ? readRttFile(config.rttFile) : undefined;
  const source = await makeSource(config);
  const proxy = await startProxy({
    node: config.nodeName,
    source,
    listen: config.listen,
    peerListen: config.peerListen,
    adminListen: config.adminListen,
    logger,
    nodeAddress: config.nodeAddress,
    balancer: config.balancer,
    controller: config.controller,
    statsToken: config.statsToken,
    coldStartTimeoutMs: config.coldStartTimeoutMs,
    drainGraceMs: config.drainGraceMs,
    maxQueued: config.maxQueued,
    rtt,
    probeIntervalMs: config.readinessIntervalMs,
    statsIntervalMs: config.statsIntervalMs,
    coldStartPoke: config.coldStartPoke,
  });
  registerProcessMetrics(proxy.metrics.registry);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn('forced_exit', { msg: `second ${signal}` });
      process.exit(1);
    }
    stopping = true;
    logger.info('signal', { msg: signal });
    proxy.drain().then(
      () => process.exit(0),
      (err: Error) => {
        logger.error('drain_failed', { msg: err.message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (err) {
  // Start-up failures (bad endpoints file, unreadable kubeconfig, port in use) are the exit-2 kind.
  const e = err as Error & { code?: string };
  exitUsage(e.code && !e.message.includes(e.code) ? `${e.message} (${e.code})` : e.message);
}
