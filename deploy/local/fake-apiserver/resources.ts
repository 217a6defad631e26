// The kinds the fake API server serves, described the way Kubernetes discovery describes them
// (APIResource: plural name, kind, namespaced, verbs, subresources). The emulated cluster, the
// controller and the proxy only need the built-ins below; anything else (another CRD) is passed in
// at start-up, which is all "any custom resource" takes because the store is schema-free.

export interface ResourceType {
  /** API group; '' for the core group (served under /api). */
  group: string;
  version: string;
  kind: string;
  /** Lower-case plural, the path segment (`endpointslices`). */
  plural: string;
  namespaced: boolean;
  shortNames?: string[];
  /** Has a `/status` subresource: writes to the main resource keep the old status and vice versa. */
  status?: boolean;
}

export const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export const BUILTIN_RESOURCES: readonly ResourceType[] = [
  { group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false, shortNames: ['ns'], status: true },
  { group: '', version: 'v1', kind: 'Node', plural: 'nodes', namespaced: false, shortNames: ['no'], status: true },
  { group: '', version: 'v1', kind: 'Pod', plural: 'pods', namespaced: true, shortNames: ['po'], status: true },
  { group: '', version: 'v1', kind: 'Service', plural: 'services', namespaced: true, shortNames: ['svc'], status: true },
  { group: '', version: 'v1', kind: 'Endpoints', plural: 'endpoints', namespaced: true, shortNames: ['ep'] },
  { group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true, shortNames: ['cm'] },
  { group: 'discovery.k8s.io', version: 'v1', kind: 'EndpointSlice', plural: 'endpointslices', namespaced: true },
  { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease', plural: 'leases', namespaced: true },
  { group: 'serving.knative.dev', version: 'v1', kind: 'Revision', plural: 'revisions', namespaced: true, shortNames: ['rev'], status: true },
  { group: 'serving.knative.dev', version: 'v1', kind: 'Service', plural: 'services', namespaced: true, shortNames: ['kservice', 'ksvc'], status: true },
  { group: 'batch.bonavadeur.io', version: 'v1', kind: 'Seika', plural: 'seikas', namespaced: true, status: true },
];

export function apiVersionOf(r: ResourceType): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

/** Store key of a resource: group and plural (one version per group here). */
export function resourceKey(r: { group: string; plural: string }): string {
  return `${r.group}/${r.plural}`;
}

/** Lookups by path (group, version, plural) and by object (apiVersion, kind). */
export class ResourceRegistry {
  readonly all: ResourceType[];
  readonly #byPath = new Map<string, ResourceType>();
  readonly #byKind = new Map<string, ResourceType>();

  constructor(types: readonly ResourceType[]) {
    this.all = [];
    for (const t of types) {
      const path = `${t.group}/${t.version}/${t.plural}`;
      if (this.#byPath.has(path)) throw new Error(`resource ${path} registered twice`);
      this.all.push(t);
      this.#byPath.set(path, t);
      this.#byKind.set(`${apiVersionOf(t)}/${t.kind}`, t);
    }
  }

  byPath(group: string, version: string, plural: string): ResourceType | undefined {
    return this.#byPath.get(`${group}/${version}/${plural}`);
  }

  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    return this.#byKind.get(`${apiVersion}/${kind}`);
  }

  /** Group → versions, in registration order (for /apis). */
  groups(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const t of this.all) {
      const vs = out.get(t.group) ?? [];
      if (!vs.includes(t.version)) vs.push(t.version);
      out.set(t.group, vs);
    }
    return out;
  }
}
