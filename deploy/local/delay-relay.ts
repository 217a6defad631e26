// A TCP relay that adds network distance between emulated nodes (DESIGN.md §5). Node k's relay
// listens on the peer port other proxies dial (127.0.10.k:8014) and forwards to the proxy's real
// peer listener (127.0.10.k:18014). Every chunk is held for the one-way delay (RTT/2) in each
// direction, so a request/response exchange costs one RTT, as between real sites. The delay is
// chosen per connection by the connecting source address's node (proxies dial from their
// `--node-address`), so node1 → node3 pays 25 ms each way while node1 → node2 pays 0.5 ms.
//
// Order is kept (one FIFO per direction), half-closes are passed on after the held data, and
// buffering is bounded: a direction holding more than `maxHeldBytes` pauses its reader until the
// queue drains, and a writer that reports backpressure stops the queue until its 'drain'.

import net from 'node:net';

export interface DelayRelayOptions {
  listen: { host: string; port: number };
  target: { host: string; port: number };
  /** One-way delay in ms for a connection accepted from this source address. */
  oneWayDelayMs(sourceAddress: string): number;
  /** Bytes held per direction before the reading side is paused (default 1 MiB). */
  maxHeldBytes?: number;
  /** Source address of the connection to the target (default: the OS's choice). */
  localAddress?: string;
}

interface Held {
  chunk: Buffer;
  due: number;
}

/** Copies `from` to `to`, each chunk no earlier than `delayMs` after it arrived; reports the
 * bytes it holds right now. */
function delayedPipe(from: net.Socket, to: net.Socket, delayMs: number, maxHeldBytes: number): () => number {
  if (delayMs <= 0) {
    from.pipe(to);
    return () => 0;
  }
  const queue: Held[] = [];
  let held = 0;
  let ended = false;
  let timer: NodeJS.Timeout | undefined;
  let blocked = false;
  let pausedByUs = false;

  const flush = (): void => {
    timer = undefined;
    while (queue.length > 0 && !blocked) {
      const wait = queue[0]!.due - performance.now();
      if (wait > 0) {
        // Timers run on a millisecond clock and may fire a fraction early: round up, never down.
        timer = setTimeout(flush, Math.ceil(wait));
        break;
      }
      const { chunk } = queue.shift()!;
      held -= chunk.length;
      if (to.destroyed) return;
      if (!to.write(chunk)) {
        blocked = true;
        to.once('drain', () => {
          blocked = false;
          flush();
        });
      }
    }
    if (pausedByUs && held < maxHeldBytes) {
      pausedByUs = false;
      from.resume();
    }
    if (queue.length === 0 && ended && !to.destroyed) to.end();
  };

  from.on('data', (chunk: Buffer) => {
    queue.push({ chunk, due: performance.now() + delayMs });
    held += chunk.length;
    if (held >= maxHeldBytes && !pausedByUs) {
      pausedByUs = true;
      from.pause();
    }
    if (timer === undefined && !blocked) flush();
  });
  from.on('end', () => {
    ended = true;
    if (timer === undefined && !blocked) flush();
  });
  to.on('close', () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    queue.length = 0;
    held = 0;
  });
  return () => held;
}

export class DelayRelay {
  readonly #opts: Required<Omit<DelayRelayOptions, 'localAddress'>> & { localAddress?: string };
  readonly #sockets = new Set<net.Socket>();
  readonly #held = new Set<() => number>();
  #server: net.Server | undefined;

  constructor(opts: DelayRelayOptions) {
    this.#opts = { maxHeldBytes: 1 << 20, ...opts };
  }

  async start(): Promise<void> {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => this.#relay(client));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#opts.listen.port, this.#opts.listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  /** The bound address (useful with port 0). */
  address(): { host: string; port: number } {
    const a = this.#server?.address();
    if (!a || typeof a === 'string') throw new Error('relay not listening');
    return { host: a.address, port: a.port };
  }

  #relay(client: net.Socket): void {
    const source = client.remoteAddress;
    if (source === undefined) {
      client.destroy();
      return;
    }
    const delay = this.#opts.oneWayDelayMs(source);
    const upstream = net.connect({
      host: this.#opts.target.host,
      port: this.#opts.target.port,
      localAddress: this.#opts.localAddress,
      allowHalfOpen: true,
      noDelay: true,
    });
    for (const s of [client, upstream]) {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    }
    // A reset or error on one side resets the other at once; a clean close lets held data finish.
    const fail = (other: net.Socket) => () => {
      if (!other.destroyed) other.resetAndDestroy();
    };
    client.on('error', fail(upstream));
    upstream.on('error', fail(client));
    client.on('close', (hadError) => hadError && upstream.destroy());
    upstream.on('close', (hadError) => hadError && client.destroy());
    const up = delayedPipe(client, upstream, delay, this.#opts.maxHeldBytes);
    const down = delayedPipe(upstream, client, delay, this.#opts.maxHeldBytes);
    this.#held.add(up).add(down);
    upstream.on('close', () => this.#held.delete(up));
    client.on('close', () => this.#held.delete(down));
  }

  /** Bytes held in delay queues over all connections (bounded by 2 × maxHeldBytes + a chunk each). */
  heldBytes(): number {
    let sum = 0;
    for (const h of this.#held) sum += h();
    return sum;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    await closed;
  }
}
