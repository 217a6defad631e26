// A WebSocket echo pod: a real node:http server with a `ws` WebSocketServer on it. It echoes every
// message (text stays text, binary stays binary), records each upgrade request it accepted, answers
// plain HTTP requests with 200, and refuses upgrades on /deny with 403 (to see a refusal relayed).

import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { startBackend, type Backend } from './proxy-harness.ts';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface EchoPod extends Backend {
  /** Upgrade requests that became WebSockets. */
  upgrades: IncomingMessage[];
  /** Server-side sockets currently open. */
  open: Set<WebSocket>;
}

export async function startEchoPod(t: Teardown, address: string): Promise<EchoPod> {
  const backend = await startBackend(t, address, (req, res) => {
    req.resume();
    res.end('plain hello\n');
  });
  const wss = new WebSocketServer({ noServer: true });
  const upgrades: IncomingMessage[] = [];
  const open = new Set<WebSocket>();
  backend.server.on('upgrade', (req, socket, head) => {
    if (req.url === '/deny') {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 7\r\nconnection: close\r\n\r\ndenied\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      upgrades.push(req);
      open.add(ws);
      ws.on('close', () => open.delete(ws));
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  });
  t.teardown(() => {
    for (const ws of open) ws.terminate();
    wss.close();
  });
  return Object.assign(backend, { upgrades, open });
}
