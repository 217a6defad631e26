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

/**
 * `/openapi/v3`: the index of per-group-version documents. kubectl reads it before create/apply
 * to learn whether the server validates fields itself (`fieldValidation` on each kind's PATCH);
 * without it kubectl refuses to create from a file unless run with --validate=false.
 */
export function openApiIndex(reg: ResourceRegistry): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (const [g, vs] of reg.groups()) {
    for (const v of vs) {
      const gv = g === '' ? `api/${v}` : `apis/${g}/${v}`;
      paths[gv] = { serverRelativeURL: `/openapi/v3/${gv}` };
    }
  }
  return { paths };
}

/**
 * `/openapi/v3/apis/<group>/<version>`: one path per kind with its verbs, each tagged with the kind
 * and declaring `fieldValidation`, so kubectl validates on the server side (which accepts any
 * field: like a CRD with `x-kubernetes-preserve-unknown-fields`). No schemas are published.
 */
export function openApiGroupVersion(reg: ResourceRegistry, group: string, version: string): Record<string, unknown> | undefined {
  const types = reg.all.filter((t) => t.group === group && t.version === version);
  if (types.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  const prefix = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
  for (const t of types) {
    const gvk = { 'x-kubernetes-group-version-kind': { group, version, kind: t.kind } };
    const parameters = [{ name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } }];
    const op = (id: string): Record<string, unknown> => ({ operationId: `${id}${t.kind}`, parameters, responses: {}, ...gvk });
    const base = t.namespaced ? `${prefix}/namespaces/{namespace}/${t.plural}` : `${prefix}/${t.plural}`;
    paths[base] = { get: op('list'), post: op('create') };
    paths[`${base}/{name}`] = { get: op('read'), put: op('replace'), patch: op('patch'), delete: op('delete') };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths, components: { schemas: {} } };
}
