// Two real proxies on two loopback addresses, node1 (ingress) and node2 (owner), wired as DESIGN.md
// §3 says: node1's static file names node2's peer listener under `nodes`. node2 starts first so its
// peer port is known when node1's file is written. node1 sends from its own address
// (`nodeAddress`), so node2 and its pods can tell a hop from node1 apart from the test client.

import { startTestProxy, type FileDoc, type TestProxy } from './proxy-harness.ts';
import type { ProxyOptions } from '../../proxy/main.ts';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface ProxyPair {
  node1: TestProxy;
  node2: TestProxy;
  /** node2's peer listener as `address:port`, as written in node1's file. */
  peer2: string;
}

export async function startProxyPair(
  t: Teardown,
  addresses: { node1: string; node2: string },
  revisions: FileDoc['revisions'],
  opts: { node1?: Partial<ProxyOptions>; node2?: Partial<ProxyOptions> } = {},
): Promise<ProxyPair> {
  const node2 = await startTestProxy(t, addresses.node2, { revisions }, { node: 'node2', nodeAddress: addresses.node2, ...opts.node2 });
  const peer2 = `${addresses.node2}:${node2.proxy.peer.port}`;
  const node1 = await startTestProxy(
    t,
    addresses.node1,
    { nodes: { node2: { peer: peer2 } }, revisions },
    { node: 'node1', nodeAddress: addresses.node1, ...opts.node1 },
  );
  return { node1, node2, peer2 };
}
