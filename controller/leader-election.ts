// One leader among the controller instances (DESIGN.md §4 "High availability"), on a
// coordination.k8s.io/v1 Lease, the way client-go's leaderelection does it (there is no helper in
// client-node): every retry period each instance reads the Lease; the holder renews it; another
// instance takes it over only when the holder's record has not changed for a whole lease duration
// *as measured by its own clock* (clocks of different machines never get compared), or at once
// when the Lease is free. Every write is a replace carrying the read resourceVersion, so of two
// racing candidates exactly one wins (the other gets 409). A leader that cannot renew for the renew
// deadline (2/3 of the duration) steps down on its own, before anyone may take over.
// holderIdentity is the instance's stats URL, so followers know where to forward reports.

import { ApiException, CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { systemClock, type Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';

export interface LeaderElectorOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  /** This instance's stats base URL. */
  identity: string;
  leaseDurationMs: number;
  logger: Logger;
  clock?: Clock;
  onChange?: (leader: boolean) => void;
}

export class LeaderElector {
  readonly #api: CoordinationV1Api;
  readonly #o: LeaderElectorOptions;
  readonly #clock: Clock;
  // client-go's defaults are 15 s lease, 10 s renew deadline, 2 s retry: the same proportions.
  readonly #retryMs: number;
  readonly #renewDeadlineMs: number;
  #leader = false;
  #holder: string | undefined;
  /** The holder's record as last read, and when (our clock) it last changed. */
  #observed = { record: '', at: 0 };
  #lastRenew = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(o: LeaderElectorOptions) {
    this.#o = o;
    this.#api = o.kubeConfig.makeApiClient(CoordinationV1Api);
    this.#clock = o.clock ?? systemClock;
    this.#retryMs = Math.max(100, o.leaseDurationMs / 7.5);
    this.#renewDeadlineMs = (o.leaseDurationMs * 2) / 3;
  }

  start(): void {
    this.#schedule(0);
  }

  isLeader(): boolean {
    return this.#leader;
  }

  /** The current leader's identity (stats URL) when it is another live instance. */
  leaderUrl(): string | undefined {
    return this.#leader ? undefined : this.#holder;
  }

  /** Stops competing; a leader hands the Lease back so a follower takes over at its next retry. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#running;
    if (!this.#leader) return;
    this.#setLeader(false);
    try {
      const lease = await this.#read();
      if (lease?.spec?.holderIdentity === this.#o.identity) {
        lease.spec = { ...lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1, renewTime: new V1MicroTime(Date.now()) };
        await this.#api.replaceNamespacedLease({ name: this.#o.name, namespace: this.#o.namespace, body: lease });
      }
    } catch (err) {
      this.#o.logger.warn('lease_release_failed', { msg: (err as Error).message });
    }
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#step().finally(() => this.#schedule(this.#retryMs));
    }, ms);
  }

  async #step(): Promise<void> {
    const now = this.#clock.now();
    try {
      const lease = await this.#read();
      if (this.#closed) return;
      if (!lease) {
        await this.#api.createNamespacedLease({ namespace: this.#o.namespace, body: this.#leaseBody(undefined) });
        this.#won(now);
        return;
      }
      const spec = lease.spec ?? {};
      const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.leaseTransitions]);
      if (record !== this.#observed.record) this.#observed = { record, at: now };
      const holder = spec.holderIdentity || undefined;
      const durationMs = (spec.leaseDurationSeconds ?? this.#o.leaseDurationMs / 1000) * 1000;
      if (holder && holder !== this.#o.identity && now - this.#observed.at < durationMs) {
        this.#holder = holder;
        this.#setLeader(false);
        return;
      }
      await this.#api.replaceNamespacedLease({ name: this.#o.name, namespace: this.#o.namespace, body: this.#leaseBody(lease) });
      this.#won(now);
    } catch (err) {
      if (err instanceof ApiException && err.code === 409) {
        // Another instance wrote first; the next read tells who.
        this.#setLeader(false);
        return;
      }
      this.#o.logger.warn('lease_error', { code: 'lease_error', msg: (err as Error).message });
      if (this.#leader && now - this.#lastRenew > this.#renewDeadlineMs) this.#setLeader(false);
    }
  }

  async #read(): Promise<V1Lease | undefined> {
    try {
      return await this.#api.readNamespacedLease({ name: this.#o.name, namespace: this.#o.namespace });
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return undefined;
      throw err;
    }
  }

  #leaseBody(old: V1Lease | undefined): V1Lease {
    const now = new V1MicroTime(Date.now());
    const mine = old?.spec?.holderIdentity === this.#o.identity;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: old?.metadata ?? { name: this.#o.name, namespace: this.#o.namespace },
      spec: {
        holderIdentity: this.#o.identity,
        leaseDurationSeconds: Math.ceil(this.#o.leaseDurationMs / 1000),
        acquireTime: mine ? old?.spec?.acquireTime : now,
        renewTime: now,
        leaseTransitions: (old?.spec?.leaseTransitions ?? 0) + (mine || !old ? 0 : 1),
      },
    };
  }

  #won(now: number): void {
    this.#lastRenew = now;
    this.#holder = this.#o.identity;
    this.#setLeader(true);
  }

  #setLeader(leader: boolean): void {
    if (leader === this.#leader) return;
    this.#leader = leader;
    this.#o.logger.info(leader ? 'leader_elected' : 'leader_lost', { msg: `lease ${this.#o.namespace}/${this.#o.name}` });
    this.#o.onChange?.(leader);
  }
}
