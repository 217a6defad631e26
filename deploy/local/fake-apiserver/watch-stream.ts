// One open watch as the API server streams it: HTTP 200 with chunked JSON lines
// `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}`, BOOKMARK events every
// `bookmarkIntervalMs` when the client sent `allowWatchBookmarks=true`, and a clean end after
// `timeoutSeconds`. The server can end it (as on an API server restart) or expire it with an
// in-stream 410 ERROR event (as after an etcd compaction), the form informers see most in practice.

import type { ServerResponse } from 'node:http';
import { statusObject } from './api-error.ts';
import { apiVersionOf } from './resources.ts';
import type { KObject, Store } from './store.ts';
import type { WatchRequest } from './rest-handler.ts';

export interface WatchStreamOptions {
  store: Store;
  request: WatchRequest;
  res: ServerResponse;
  bookmarkIntervalMs: number;
  /** Used when the client sent no timeoutSeconds (Kubernetes picks 30–60 min). */
  defaultTimeoutSeconds: number;
  onEnd: () => void;
}

export class WatchStream {
  readonly #res: ServerResponse;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #onEnd: () => void;
  #unsubscribe: (() => void) | undefined;
  #ended = false;

  /** Throws the store's ApiError (410 Expired, 400) before any byte is written. */
  constructor({ store, request, res, bookmarkIntervalMs, defaultTimeoutSeconds, onEnd }: WatchStreamOptions) {
    this.#res = res;
    this.#onEnd = onEnd;
    const buffered: string[] = [];
    let headersSent = false;
    const send = (type: string, object: KObject): void => {
      const line = JSON.stringify({ type, object }) + '\n';
      if (headersSent) this.#res.write(line);
      else buffered.push(line);
    };
    // Subscribing replays history synchronously; buffer it so a 410 can still be a plain status.
    this.#unsubscribe = store.watch(request.filter, request.fromRv, send);
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private' });
    res.flushHeaders();
    headersSent = true;
    for (const line of buffered) res.write(line);
    const r = request.filter.resource;
    if (request.bookmarks) {
      const t = setInterval(() => {
        send('BOOKMARK', { kind: r.kind, apiVersion: apiVersionOf(r), metadata: { resourceVersion: store.resourceVersion } });
      }, bookmarkIntervalMs);
      this.#timers.push(t);
    }
    this.#timers.push(setTimeout(() => this.end(), (request.timeoutSeconds ?? defaultTimeoutSeconds) * 1000));
    res.on('close', () => this.#cleanup());
  }

  /** Sends an in-stream 410 ERROR and ends, so the client relists. */
  expire(): void {
    if (this.#ended) return;
    const status = statusObject('Expired', `too old resource version: the watch was expired by the server`);
    this.#res.write(JSON.stringify({ type: 'ERROR', object: status }) + '\n');
    this.end();
  }

  /** Ends the stream cleanly (last chunk), as the API server does when a watch times out. */
  end(): void {
    if (this.#ended) return;
    this.#cleanup();
    this.#res.end();
  }

  #cleanup(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    for (const t of this.#timers) clearTimeout(t);
    this.#onEnd();
  }
}

/** The in-stream form of 410: a 200 whose only event is the ERROR, then the end. */
export function writeExpiredEvent(res: ServerResponse, message: string): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ type: 'ERROR', object: statusObject('Expired', message) }) + '\n');
}
