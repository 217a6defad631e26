// The demo function of the emulated cluster: one child process per pod (DESIGN.md §5), started by
// the node agent as `process.execPath pod-app.ts '<json PodConfig>'`. It behaves like a small
// Knative user container: it boots for `startupDelayMs` before listening (the part of a cold start
// the proxy can't hide), spends `serviceTimeMs` per request, answers
// `Konnichiwa from <pod> in <node>` on any path but the readiness path, and on SIGTERM stops
// accepting, finishes what is in flight and exits 0.
//
// Distance: like the delay relays, it holds a request for RTT/2 before working on it and the
// response for RTT/2 before sending it, with the RTT between this pod's node and the node of the
// connecting source address. Proxies reach their own pods from their `--node-address`, so they pay
// nothing; a client that dials a far pod directly (the benchmarks' round-robin baseline) pays one
// RTT per exchange. The readiness path is answered at once: kubelet probes from its own node.

import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, type Logger } from '../../lib/log.ts';
import { clusterAddresses } from './addresses.ts';
import { parseTopology, rttBetween } from './topology.ts';

export interface PodConfig {
  /** Pod name, `<seika>-<node>-<rand>`. */
  name: string;
  node: string;
  host: string;
  port: number;
  serviceTimeMs: number;
  startupDelayMs: number;
  readinessPath: string;
  /** Address offset and topology document, to map a source address to its node and RTT. */
  offset: number;
  topology: unknown;
}

export interface PodServer {
  server: http.Server;
  /** Stop accepting, let in-flight requests finish, close idle keep-alive sockets. */
  drain(): Promise<void>;
}

export function createPodServer(cfg: PodConfig, log?: Logger): PodServer {
  const topology = parseTopology(cfg.topology);
  const addresses = clusterAddresses(topology.nodes, cfg.offset);
  const body = `Konnichiwa from ${cfg.name} in ${cfg.node}\n`;
  let draining = false;
  // The cold-start bench times "probe reached the pod" and "request forwarded" from this pod's
  // first readiness request and first request (one line each per pod; there is no access log).
  let firstProbe = true;
  let firstRequest = true;

  const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    // Once draining, each answer closes its connection so the proxy's pool moves on (RFC 9112 §9.6).
    const finish = (status: number, text: string): void => {
      if (draining) res.setHeader('Connection', 'close');
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (path === cfg.readinessPath) {
      if (firstProbe) {
        firstProbe = false;
        log?.info('pod_first_probe', { pod: cfg.name, msg: req.headers['user-agent'] ?? '' });
      }
      req.resume();
      finish(draining ? 503 : 200, draining ? 'draining\n' : 'ok\n');
      return;
    }
    if (firstRequest) {
      firstRequest = false;
      log?.info('pod_first_request', { pod: cfg.name });
    }
    const oneWay = rttBetween(topology, addresses.nodeOfAddress(req.socket.remoteAddress ?? ''), cfg.node) / 2;
    const handle = async (): Promise<void> => {
      // The request body is read (and dropped) in full before answering, as most functions do.
      for await (const _ of req);
      if (oneWay > 0) await sleep(oneWay);
      if (cfg.serviceTimeMs > 0) await sleep(cfg.serviceTimeMs);
      if (oneWay > 0) await sleep(oneWay);
      if (!res.destroyed) finish(200, body);
    };
    handle().catch(() => res.destroy());
  });

  const drain = async (): Promise<void> => {
    draining = true;
    // close() stops accepting and waits for open connections; idle ones are closed now, busy
    // ones after their response (Connection: close above).
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await closed;
  };
  return { server, drain };
}

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (!raw) {
    process.stderr.write('error: pod-app needs its JSON config as the first argument\n');
    process.exit(2);
  }
  const cfg = JSON.parse(raw) as PodConfig;
  const log = createLogger({ node: cfg.node });
  // Process start, before the boot delay: the cold-start bench splits Node's own start-up from it.
  log.info('pod_started', { pod: cfg.name });
  const pod = createPodServer(cfg, log);
  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('pod_stopping', { pod: cfg.name, msg: why });
    // Kubernetes' default termination grace is 30 s; the agent SIGKILLs later than that anyway.
    setTimeout(() => process.exit(1), 30_000).unref();
    pod.drain().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // The agent talks to us over IPC only so that its death (even SIGKILL) closes the channel: a pod
  // never outlives its node agent.
  process.on('disconnect', () => stop('node agent gone'));
  if (cfg.startupDelayMs > 0) await sleep(cfg.startupDelayMs);
  if (stopping) return;
  pod.server.listen(cfg.port, cfg.host, () => log.info('pod_listening', { pod: cfg.name, msg: `${cfg.host}:${cfg.port}` }));
  pod.server.on('error', (err) => {
    log.error('pod_listen_failed', { pod: cfg.name, msg: err.message });
    process.exit(1);
  });
}

if (import.meta.main) await main();
