// A client-node informer that never gives up. client-node 2.x relists by itself only on a 410
// (HTTP status or in-stream ERROR event); any other failure (API server restarting, connection
// refused, a 5xx on the list) fires `error` and stops the informer for good. This wrapper starts it
// again after a capped backoff (0.5 s doubling to 5 s, DESIGN.md §2 "Static stability", so a
// returning API server is seen within 10 s) and keeps the same informer object, whose cache is the
// last good state: routing keeps serving from it during the outage, and the relist after the
// outage turns into add/update/delete callbacks for only what changed.

import { makeInformer, type KubeConfig, type KubernetesObject, type ListPromise } from '@kubernetes/client-node';
import { Backoff } from '../../lib/backoff.ts';
import type { Logger } from '../../lib/log.ts';

export interface RestartingInformerOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** Watch path, e.g. `/apis/discovery.k8s.io/v1/endpointslices`; must match what `list` lists. */
  path: string;
  list: ListPromise<T>;
  labelSelector?: string;
  /** Names the informer in logs. */
  name: string;
  logger: Logger;
  /** Called on every add, update or delete (also those a relist produces). */
  onChange: () => void;
  backoff?: Backoff;
}

export class RestartingInformer<T extends KubernetesObject> {
  readonly #informer: ReturnType<typeof makeInformer<T>>;
  readonly #name: string;
  readonly #logger: Logger;
  readonly #backoff: Backoff;
  #listed = false;
  #synced = false;
  #failing = false;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;
  #attempting: Promise<void> | undefined;
  #firstSync: PromiseWithResolvers<void> = Promise.withResolvers<void>();

  constructor(o: RestartingInformerOptions<T>) {
    this.#name = o.name;
    this.#logger = o.logger;
    this.#backoff = o.backoff ?? new Backoff({ initialMs: 500, maxMs: 5000 });
    const list: ListPromise<T> = async () => {
      const result = await o.list();
      this.#listed = true;
      this.#recovered();
      return result;
    };
    this.#informer = makeInformer<T>(o.kubeConfig, o.path, list, o.labelSelector);
    const changed = (): void => {
      // A watch event means the connection works: the next failure starts from the short delay.
      this.#recovered();
      o.onChange();
    };
    this.#informer.on('add', changed);
    this.#informer.on('update', changed);
    this.#informer.on('delete', changed);
    this.#informer.on('error', (err: unknown) => this.#onError(err));
    // Keep an unhandled-rejection-free promise for callers that never await start().
    this.#firstSync.promise.catch(() => {});
  }

  /** Resolves after the first successful list; rejects if closed before that. */
  start(): Promise<void> {
    this.#run();
    return this.#firstSync.promise;
  }

  synced(): boolean {
    return this.#synced;
  }

  /** The cached objects: the last good state, kept through API outages. */
  list(): readonly T[] {
    return this.#informer.list();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#firstSync.reject(new Error(`informer ${this.#name} closed before its first sync`));
    await this.#informer.stop();
    // ListWatch does not look at its stopped flag between listing and watching: an attempt caught
    // mid-list would open a watch after stop(). Let it finish, then stop once more.
    if (this.#attempting) {
      await this.#attempting;
      await this.#informer.stop();
    }
  }

  #run(): void {
    const attempt = this.#attempt();
    this.#attempting = attempt;
    void attempt.finally(() => {
      if (this.#attempting === attempt) this.#attempting = undefined;
    });
  }

  async #attempt(): Promise<void> {
    // ListWatch.start() lists (unless it holds a resourceVersion to resume from), fills the cache,
    // and returns once the watch request is answered or has failed (then `error` already fired).
    try {
      await this.#informer.start();
    } catch (err) {
      // Thrown before any request (e.g. a kubeconfig without a current cluster): retry like any error.
      this.#onError(err);
      return;
    }
    if (this.#closed || this.#synced || !this.#listed) return;
    this.#synced = true;
    this.#firstSync.resolve();
  }

  #recovered(): void {
    this.#backoff.reset();
    if (!this.#failing) return;
    this.#failing = false;
    this.#logger.info('kube_informer_recovered', { informer: this.#name });
  }

  #onError(err: unknown): void {
    // Stopping the informer aborts its watch, which client-node reports as one more error.
    if (this.#closed || this.#retry) return;
    const delay = this.#backoff.next();
    this.#failing = true;
    this.#logger.warn('kube_informer_error', {
      code: 'kube_api_unavailable',
      informer: this.#name,
      msg: `${errorText(err)}; keeping the last good state, retrying in ${delay} ms`,
    });
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (!this.#closed) this.#run();
    }, delay);
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
  }
  return String(err);
}
