// One upstream attempt: dispatches a request on an undici Pool with a handler that streams the
// response straight into the client's ServerResponse (no buffering: backpressure pauses the
// upstream socket while the client is slow). It reports what happened, in particular whether the
// failure came before any response byte, which decides whether a retry is allowed.

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher, Pool } from 'undici';

type Controller = Dispatcher.DispatchController;

export interface AttemptEvents {
  /** Response headers arrived; write them to the client (return false to abort the attempt). */
  onHeaders(statusCode: number, headers: IncomingHttpHeaders): void;
  /** The whole body was written to the client. */
  onEnd(): void;
  /** The attempt failed; `responded` says whether headers had already gone to the client. */
  onError(err: Error, responded: boolean): void;
}

export interface AttemptRequest {
  method: string;
  path: string;
  headers: string[];
  /** The client request as body, or null when it has none (no Content-Length / Transfer-Encoding). */
  body: IncomingMessage | null;
  /** Idle limit between response body chunks (the revision timeout, DESIGN.md §2). */
  bodyIdleMs: number;
}

export class Attempt implements Dispatcher.DispatchHandler {
  readonly #res: ServerResponse;
  readonly #events: AttemptEvents;
  #controller: Controller | undefined;
  #abortReason: Error | undefined;
  #responded = false;
  #done = false;
  /** Made on the first backpressure only: most responses fit the socket buffer and never need it. */
  #resume: (() => void) | undefined;

  constructor(res: ServerResponse, events: AttemptEvents) {
    this.#res = res;
    this.#events = events;
  }

  start(pool: Pool, r: AttemptRequest): this {
    pool.dispatch(
      {
        path: r.path,
        method: r.method as Dispatcher.HttpMethod,
        headers: r.headers,
        body: r.body,
        bodyTimeout: r.bodyIdleMs,
        headersTimeout: 0,
        // The client decides keep-alive towards the pod, never the client's Connection header.
        reset: false,
        // HEAD/GET responses are not held behind others on a socket (pipelining is 1 anyway).
        blocking: true,
      },
      this,
    );
    return this;
  }

  get responded(): boolean {
    return this.#responded;
  }

  /** Stops the attempt; the pod connection is destroyed by undici (a response was in progress). */
  abort(reason: Error): void {
    if (this.#done) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }

  onRequestStart(controller: Controller): void {
    this.#controller = controller;
    if (this.#abortReason) controller.abort(this.#abortReason);
  }

  onResponseStart(_c: Controller, statusCode: number, headers: IncomingHttpHeaders): void {
    this.#responded = true;
    this.#events.onHeaders(statusCode, headers);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (!this.#res.write(chunk)) {
      controller.pause();
      this.#res.once('drain', (this.#resume ??= () => this.#controller?.resume()));
    }
  }

  onResponseEnd(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#resume) this.#res.removeListener('drain', this.#resume);
    this.#events.onEnd();
  }

  onResponseError(_c: Controller, err: Error): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#resume) this.#res.removeListener('drain', this.#resume);
    this.#events.onError(this.#abortReason ?? err, this.#responded);
  }
}
