// One keep-alive undici Pool per upstream origin (a pod, or a peer proxy), created on first use
// and closed when the origin leaves every revision. undici's Pool keeps sockets warm, so a steady
// stream of requests pays no connect or TLS cost; `pipelining: 1` because a slow response must not
// hold up the next request on the same socket.

import { Pool } from 'undici';

export interface PoolOptions {
  /** Source address for upstream connections (`--node-address`; the emulator gives each node one). */
  localAddress?: string;
  /** Idle keep-alive sockets close after this (below a typical app server's 5 s idle cut). */
  keepAliveTimeoutMs?: number;
  connectTimeoutMs?: number;
}

export class UpstreamPools {
  readonly #pools = new Map<string, Pool>();
  readonly #opts: PoolOptions;

  constructor(opts: PoolOptions = {}) {
    this.#opts = opts;
  }

  /** The pool for `host:port` (origin key as in lib/model.ts endpointKey). */
  get(hostPort: string): Pool {
    let pool = this.#pools.get(hostPort);
    if (!pool) {
      pool = new Pool(`http://${hostPort}`, {
        pipelining: 1,
        keepAliveTimeout: this.#opts.keepAliveTimeoutMs ?? 4_000,
        // Our own deadline timer bounds the wait for headers (queue and cold start included);
        // undici's would count only from dispatch. Body idleness is set per request.
        headersTimeout: 0,
        connect: { timeout: this.#opts.connectTimeoutMs ?? 5_000 },
        ...(this.#opts.localAddress ? { localAddress: this.#opts.localAddress } : {}),
      });
      this.#pools.set(hostPort, pool);
    }
    return pool;
  }

  /** Closes pools whose origin is no longer wanted; in-flight requests on them finish first. */
  retain(wanted: ReadonlySet<string>): void {
    for (const [key, pool] of this.#pools) {
      if (wanted.has(key)) continue;
      this.#pools.delete(key);
      pool.close().catch(() => {});
    }
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => {})));
  }

  destroy(): void {
    for (const p of this.#pools.values()) p.destroy().catch(() => {});
    this.#pools.clear();
  }
}
