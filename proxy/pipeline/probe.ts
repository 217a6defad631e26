// Knative's network probes (the activator answers them itself): any request carrying
// `K-Network-Probe` gets a 200 from the proxy, echoing `K-Network-Hash` so the prober can tell this
// proxy has the configuration it expects. Never forwarded. The same request on 8014 is the peer RTT
// probe.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { bodyUnread } from './reject.ts';

export function isProbe(req: IncomingMessage): boolean {
  return req.headers['k-network-probe'] !== undefined;
}

export function answerProbe(req: IncomingMessage, res: ServerResponse): void {
  const hash = req.headers['k-network-hash'];
  const headers: Record<string, string | number> = { 'content-type': 'text/plain', 'content-length': 0 };
  if (typeof hash === 'string') headers['k-network-hash'] = hash;
  // The probe may carry a body we never read: don't let its bytes be parsed as the next request.
  if (bodyUnread(req)) headers['connection'] = 'close';
  res.writeHead(200, headers);
  res.end();
}
