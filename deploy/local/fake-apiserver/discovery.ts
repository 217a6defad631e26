// API discovery documents (the legacy, non-aggregated form): kubectl and client libraries read
// `/api`, `/apis` and `/apis/<group>/<version>` to map a kind or short name (`ksvc`, `seika`) to a
// resource path before any request. kubectl asks for aggregated discovery first and falls back to
// these when the answer's Content-Type is plain `application/json`.

import { apiVersionOf, VERBS, type ResourceRegistry } from './resources.ts';

export function apiVersions(serverAddress: string): Record<string, unknown> {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groupDoc(name: string, versions: string[]): Record<string, unknown> {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: vs, preferredVersion: vs[0] };
}

export function apiGroupList(reg: ResourceRegistry): Record<string, unknown> {
  const groups = [...reg.groups()].filter(([g]) => g !== '').map(([g, vs]) => groupDoc(g, vs));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

/** `/apis/<group>`, or undefined when the group is not served. */
export function apiGroup(reg: ResourceRegistry, group: string): Record<string, unknown> | undefined {
  const vs = reg.groups().get(group);
  if (!vs || group === '') return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(group, vs) };
}

/** `/api/v1` or `/apis/<group>/<version>`, or undefined when nothing is served there. */
export function apiResourceList(reg: ResourceRegistry, group: string, version: string): Record<string, unknown> | undefined {
  const types = reg.all.filter((t) => t.group === group && t.version === version);
  if (types.length === 0) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const t of types) {
    resources.push({
      name: t.plural,
      singularName: t.kind.toLowerCase(),
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: VERBS,
      ...(t.shortNames ? { shortNames: t.shortNames } : {}),
    });
    if (t.status) {
      resources.push({ name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf(types[0]!), resources };
}

/** `/version`: kubectl prints it and checks the skew against its own minor version. */
export function versionInfo(): Record<string, unknown> {
  return {
    major: '1',
    minor: '32',
    gitVersion: 'v1.32.0-ikukantai-fake',
    gitCommit: '',
    gitTreeState: 'clean',
    buildDate: '2026-01-01T00:00:00Z',
    goVersion: 'none',
    compiler: 'none',
    platform: `${process.platform}/${process.arch}`,
  };
}
