// A ClusterIP Service for the emulated cluster: one address in front of several replicas (the
// controllers). Each accepted connection goes to the next target in turn, as kube-proxy spreads
// connections over a Service's endpoints. A target that refuses the connection is skipped and the
// next one tried: kube-proxy stops sending to a pod once it is gone from the EndpointSlice, and a
// refused connect is how a dead replica shows here. With no target left the client's connection is
// reset, as a Service without endpoints does.

import net from 'node:net';

export interface ServiceRelayOptions {
  listen: { host: string; port: number };
  targets: ReadonlyArray<{ host: string; port: number }>;
  /** How long one target may take to accept before the next is tried (default 1 s). */
  connectTimeoutMs?: number;
}

export class ServiceRelay {
  readonly #opts: ServiceRelayOptions;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #next = 0;

  constructor(opts: ServiceRelayOptions) {
    if (opts.targets.length === 0) throw new RangeError('a service relay needs at least one target');
    this.#opts = opts;
    this.#server = net.createServer({ pauseOnConnect: true }, (client) => this.#accept(client));
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#opts.listen.port, this.#opts.listen.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
  }

  address(): { host: string; port: number } {
    const a = this.#server.address();
    if (!a || typeof a === 'string') throw new Error('service relay not listening');
    return { host: a.address, port: a.port };
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    if (this.#server.listening) await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #track(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  #accept(client: net.Socket): void {
    this.#track(client);
    client.on('error', () => client.destroy());
    const first = this.#next;
    this.#next = (this.#next + 1) % this.#opts.targets.length;
    this.#dial(client, first, 0);
  }

  /** Tries targets[(first + tried) % n]; on refusal or timeout, the next, until all were tried. */
  #dial(client: net.Socket, first: number, tried: number): void {
    const targets = this.#opts.targets;
    if (tried === targets.length || client.destroyed) {
      client.resetAndDestroy();
      return;
    }
    const target = targets[(first + tried) % targets.length]!;
    const upstream = net.connect({ host: target.host, port: target.port });
    this.#track(upstream);
    upstream.setTimeout(this.#opts.connectTimeoutMs ?? 1000, () => upstream.destroy(new Error('connect timeout')));
    const failed = (): void => {
      upstream.destroy();
      this.#dial(client, first, tried + 1);
    };
    upstream.once('error', failed);
    upstream.once('connect', () => {
      upstream.off('error', failed);
      upstream.setTimeout(0);
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
  }
}
