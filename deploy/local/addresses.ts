// Every fixed address of the emulated cluster (DESIGN.md §5), derived from one offset added to the
// third octet so that test clusters never collide: offset 0 is the documented layout (proxy of node k
// on 127.0.10.k, its pods on 127.0.(10+k).x, controller 127.0.9.1, API 127.0.0.1:6443); offset 100
// moves them to 127.0.110.k, 127.0.(110+k).x, 127.0.109.1 and the API to 127.0.108.1:6443.
// The whole 127.0.0.0/8 block is loopback on Linux, so no interface set-up is needed.

export const PORTS = {
  ingress: 8012,
  /** The delay relay listens on the peer port the other proxies dial… */
  relay: 8014,
  /** …and forwards to the proxy's real peer listener here. */
  peerListen: 18014,
  admin: 9090,
  pod: 8080,
  api: 6443,
  controllerStats: 8080,
  controllerAdmin: 9091,
  prometheus: 9095,
} as const;

export interface NodeAddresses {
  name: string;
  /** 1-based position in the topology. */
  index: number;
  /** The proxy's host, also its `--node-address` (source of its upstream and peer connections). */
  host: string;
  ingress: string;
  admin: string;
  relay: string;
  peerListen: string;
  /** Third octet of this node's pod range 127.0.<podOctet>.1–254. */
  podOctet: number;
}

export interface ControllerAddresses {
  host: string;
  stats: string;
  admin: string;
}

export interface ClusterAddresses {
  offset: number;
  api: { host: string; port: number };
  /** The controller's address; with several replicas, the Service in front of them. */
  controller: ControllerAddresses;
  /** Where `count` controller replicas listen: one listens on `controller` itself; several get
   * 127.0.<base-1>.2, .3, … and `controller` is the Service in front of them. */
  controllerReplicas(count: number): ControllerAddresses[];
  prometheus: string;
  nodes: NodeAddresses[];
  node(name: string): NodeAddresses;
  /** The `x`-th pod address on a node (1 ≤ x ≤ 254). */
  podAddress(node: string, x: number): string;
  /** The node an address belongs to (its proxy host or its pod range), if any. */
  nodeOfAddress(address: string): string | undefined;
}

const MAX_POD_HOST = 254;

/** Strips the IPv4-mapped IPv6 prefix a dual-stack socket may report (`::ffff:127.0.10.1`). */
export function plainIPv4(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

export function clusterAddresses(nodeNames: readonly string[], offset = 0): ClusterAddresses {
  if (!Number.isInteger(offset) || offset < 0 || 10 + offset + nodeNames.length > 255) {
    throw new RangeError(`address offset ${offset} does not fit ${nodeNames.length} nodes in 127.0.0.0/8`);
  }
  const base = 10 + offset;
  const nodes = nodeNames.map((name, i): NodeAddresses => {
    const host = `127.0.${base}.${i + 1}`;
    return {
      name,
      index: i + 1,
      host,
      ingress: `${host}:${PORTS.ingress}`,
      admin: `${host}:${PORTS.admin}`,
      relay: `${host}:${PORTS.relay}`,
      peerListen: `${host}:${PORTS.peerListen}`,
      podOctet: base + i + 1,
    };
  });
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const byOctet = new Map(nodes.map((n) => [n.podOctet, n.name]));
  const controllerAt = (host: string): ControllerAddresses => ({
    host,
    stats: `${host}:${PORTS.controllerStats}`,
    admin: `${host}:${PORTS.controllerAdmin}`,
  });
  const controllerHost = `127.0.${base - 1}.1`;
  const node = (name: string): NodeAddresses => {
    const n = byName.get(name);
    if (!n) throw new RangeError(`unknown node "${name}"`);
    return n;
  };
  return {
    offset,
    // The documented layout keeps the API where kubectl users expect a local cluster.
    api: { host: offset === 0 ? '127.0.0.1' : `127.0.${base - 2}.1`, port: PORTS.api },
    controller: controllerAt(controllerHost),
    controllerReplicas(count) {
      if (!Number.isInteger(count) || count < 1 || count > MAX_POD_HOST - 1) throw new RangeError(`controller replicas ${count} out of 1–253`);
      if (count === 1) return [controllerAt(controllerHost)];
      return Array.from({ length: count }, (_, i) => controllerAt(`127.0.${base - 1}.${i + 2}`));
    },
    prometheus: `${controllerHost}:${PORTS.prometheus}`,
    nodes,
    node,
    podAddress(name, x) {
      if (!Number.isInteger(x) || x < 1 || x > MAX_POD_HOST) throw new RangeError(`pod host ${x} out of 1–254`);
      return `127.0.${node(name).podOctet}.${x}`;
    },
    nodeOfAddress(address) {
      const m = /^127\.0\.(\d+)\.(\d+)$/.exec(plainIPv4(address));
      if (!m) return undefined;
      const third = Number(m[1]);
      const fourth = Number(m[2]);
      if (third === base) return nodes[fourth - 1]?.name;
      return byOctet.get(third);
    },
  };
}
