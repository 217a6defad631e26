// Graceful shutdown (DESIGN.md §2 "Draining"), in the order Kubernetes expects of a pod that
// receives SIGTERM while Services still route to it for a few seconds:
//   1. /readyz answers 503 at once, so the endpoint is taken out of rotation;
//   2. for the drain grace, new connections and requests are still served (routing lags);
//   3. listeners close, idle keep-alive sockets close, later requests on open sockets get
//      `503 draining` with Connection: close;
//   4. once nothing is in flight, queued or tunnelled, resolve (at the latest after the longest
//      revision timeout, when the rest is cut).

import type { Server } from 'node:http';
import type { ProxyContext } from './context.ts';
import type { Tunnels } from './forward/tunnel.ts';
import type { DrainState } from './server/front-server.ts';

export interface DrainDeps {
  ctx: ProxyContext;
  servers: Server[];
  state: DrainState;
  tunnels: Tunnels;
  graceMs: number;
  /** The longest timeoutSeconds of any revision, in ms. */
  longestTimeoutMs: () => number;
}

export async function drain(d: DrainDeps): Promise<'idle' | 'deadline'> {
  d.ctx.logger.info('drain_started', { msg: `serving for ${d.graceMs} ms more` });
  await sleep(d.graceMs);
  d.state.closed = true;
  for (const s of d.servers) {
    s.close();
    s.closeIdleConnections();
  }
  d.ctx.logger.info('drain_listeners_closed', { msg: `${d.ctx.active.count} in flight or queued, ${d.tunnels.size} tunnels` });
  const isIdle = (): boolean => d.ctx.active.count === 0 && d.tunnels.size === 0;
  if (isIdle()) return 'idle';
  return new Promise((resolve) => {
    const deadline = setTimeout(() => {
      d.tunnels.destroyAll();
      resolve('deadline');
    }, d.longestTimeoutMs());
    const check = (): void => {
      if (!isIdle()) return;
      clearTimeout(deadline);
      resolve('idle');
    };
    d.ctx.active.onIdle = check;
    d.tunnels.onIdle = check;
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
