// The one normalized view of the world that every endpoint source (static file, Kubernetes
// informers, the emulated cluster) produces and routing consumes. Routing never awaits an API: it
// reads the latest Snapshot, which a source replaces whole whenever anything changes.

export interface Endpoint {
  /** Pod IP (or loopback address in the emulator). */
  address: string;
  port: number;
  /** Node the pod runs on (EndpointSlice `nodeName`). */
  node: string;
  /** Kubernetes `conditions.ready`; false for a pod that has never passed readiness yet. */
  ready: boolean;
  /** Kubernetes `conditions.terminating`: finishes in-flight work, gets nothing new. */
  terminating: boolean;
}

export interface Revision {
  namespace: string;
  name: string;
  /** Lower-case host names (no port) that route here when no Knative headers are sent. */
  hosts: string[];
  /** Max in-flight requests per pod; 0 = unlimited. */
  containerConcurrency: number;
  timeoutSeconds: number;
  /** HTTP readiness path of the user container, when known. */
  readinessPath?: string;
  /** Creation time in ms since the epoch; when several revisions share a host the newest wins. */
  createdAt?: number;
  endpoints: Endpoint[];
}

export interface Peer {
  node: string;
  address: string;
  port: number;
}

export interface Snapshot {
  revisions: Revision[];
  /** Peer proxies by node (this proxy's own node may be listed too; it is ignored). */
  peers: Map<string, Peer>;
  /** Round-trip prior in milliseconds: rtt.get(a)?.get(b), symmetric. */
  rtt: Map<string, Map<string, number>>;
}

export function revisionKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function endpointKey(e: { address: string; port: number }): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/** The source contract: it calls onSnapshot with a whole new view; `ready` once first synced. */
export interface EndpointSource {
  start(onSnapshot: (s: Snapshot) => void): Promise<void>;
  /** True once the first full view was delivered (drives /readyz). */
  synced(): boolean;
  close(): Promise<void>;
}

/** Mirrors an rtt table so a→b and b→a both answer (the file format lists each pair once). */
export function symmetricRtt(pairs: Record<string, Record<string, number>>): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  const put = (a: string, b: string, ms: number): void => {
    let row = out.get(a);
    if (!row) out.set(a, (row = new Map()));
    row.set(b, ms);
  };
  for (const [a, row] of Object.entries(pairs)) {
    for (const [b, ms] of Object.entries(row)) {
      put(a, b, ms);
      put(b, a, ms);
    }
  }
  return out;
}
