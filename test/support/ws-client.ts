// A `ws` client with promise helpers: connect through a proxy with a chosen Host, then send a
// message and await the next one. Every await has a deadline so a broken tunnel fails the test
// instead of hanging it.

import { once } from 'node:events';
import { WebSocket, type RawData } from 'ws';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface WsClient {
  ws: WebSocket;
  /** Sends `data` and resolves with the next message (as text, or a Buffer when binary). */
  roundTrip(data: string | Buffer, timeoutMs?: number): Promise<string | Buffer>;
  /** Closes with 1000 and waits for the close handshake. */
  close(): Promise<void>;
}

export async function connectWs(t: Teardown, url: string, headers: Record<string, string>, timeoutMs = 5000): Promise<WsClient> {
  const ws = new WebSocket(url, { headers, handshakeTimeout: timeoutMs });
  t.teardown(() => ws.terminate());
  const inbox: Array<[RawData, boolean]> = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data, isBinary) => {
    inbox.push([data, isBinary]);
    waiters.shift()?.();
  });
  await once(ws, 'open');
  const next = (ms: number): Promise<string | Buffer> =>
    new Promise((resolve, reject) => {
      const take = (): void => {
        clearTimeout(timer);
        const [data, isBinary] = inbox.shift()!;
        const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
        resolve(isBinary ? buf : buf.toString('utf8'));
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(take), 1);
        reject(new Error(`no WebSocket message within ${ms} ms`));
      }, ms);
      if (inbox.length > 0) take();
      else waiters.push(take);
    });
  return {
    ws,
    async roundTrip(data, ms = timeoutMs) {
      ws.send(data);
      return next(ms);
    },
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return;
      const closed = once(ws, 'close');
      ws.close(1000, 'done');
      await closed;
    },
  };
}
