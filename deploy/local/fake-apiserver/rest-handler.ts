// The resource paths of the Kubernetes REST API and their verbs: get, list (with limit/continue),
// create, update, patch (merge and JSON patch), delete, deletecollection, on namespaced and
// cluster-wide paths, with or without the `/status` subresource. Watches are only recognised here
// and streamed by watch-stream.ts. Everything answers JSON; errors are thrown as ApiError.

import { ApiError, expired } from './api-error.ts';
import { parseFieldSelector } from './field-selector.ts';
import { jsonPatch } from './json-patch.ts';
import { parseLabelSelector } from './label-selector.ts';
import { mergePatch, type Json } from './merge-patch.ts';
import { apiVersionOf, type ResourceType } from './resources.ts';
import { notFound, type KObject, type Store, type WatchFilter } from './store.ts';

export interface ResourcePath {
  resource: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

export interface WatchRequest {
  filter: WatchFilter;
  fromRv: string;
  timeoutSeconds?: number;
  bookmarks: boolean;
}

export type RestResult = { status: number; body: unknown } | { watch: WatchRequest };

const NAMESPACES: ResourceType = { group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false };

/** Maps `/api/v1/...` and `/apis/<g>/<v>/...` to a resource, or undefined when not one. */
export function parseResourcePath(store: Store, pathname: string): ResourcePath | undefined {
  const seg = pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
  let group: string;
  let version: string | undefined;
  let rest: string[];
  if (seg[0] === 'api') [group, version, rest] = ['', seg[1], seg.slice(2)];
  else if (seg[0] === 'apis') [group, version, rest] = [seg[1] ?? '', seg[2], seg.slice(3)];
  else return undefined;
  if (!version || rest.length === 0) return undefined;
  const reg = store.registry;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const r = reg.byPath(group, version, rest[2]!);
    if (r?.namespaced && rest.length <= 5) return { resource: r, namespace: rest[1], name: rest[3], subresource: rest[4] };
    if (group !== '' || rest.length > 3) return undefined;
  }
  const r = reg.byPath(group, version, rest[0]!);
  if (!r || rest.length > 3 || (r.namespaced && rest.length > 1)) return undefined;
  return { resource: r, name: rest[1], subresource: rest[2] };
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ApiError('BadRequest', 'the request body is not valid JSON');
  }
}

function parseBody(raw: Buffer): KObject {
  const v = parseJson(raw);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ApiError('BadRequest', 'the request body is not a JSON object');
  return v as KObject;
}

function listOf(r: ResourceType, items: KObject[], rv: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { kind: `${r.kind}List`, apiVersion: apiVersionOf(r), metadata: { resourceVersion: rv, ...extra }, items };
}

/** Continue tokens carry the list's version and the last key, as Kubernetes' do (base64 JSON). */
function encodeContinue(rv: string, after: string): string {
  return Buffer.from(JSON.stringify({ rv, after })).toString('base64url');
}

function decodeContinue(token: string): { rv: string; after: string } {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { rv?: unknown; after?: unknown };
    if (typeof v.rv === 'string' && typeof v.after === 'string') return { rv: v.rv, after: v.after };
  } catch {
    // reported below
  }
  throw new ApiError('BadRequest', 'invalid continue token');
}

function keyOf(o: KObject): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

function list(store: Store, p: ResourcePath, q: URLSearchParams, labels: WatchFilter['labels'], fields: WatchFilter['fields']): unknown {
  let items = store.list(p.resource, p.namespace, labels, fields);
  const rv = store.resourceVersion;
  const cont = q.get('continue');
  if (cont) {
    const { rv: tokenRv, after } = decodeContinue(cont);
    // Pages are served from current state; a token older than the history expires like a watch.
    if (Number(tokenRv) < store.oldestResourceVersion) throw expired(tokenRv, store.oldestResourceVersion);
    items = items.filter((o) => keyOf(o) > after);
  }
  const limit = Number(q.get('limit') ?? 0);
  if (limit > 0 && items.length > limit) {
    const page = items.slice(0, limit);
    return listOf(p.resource, page, rv, {
      continue: encodeContinue(rv, keyOf(page[page.length - 1]!)),
      remainingItemCount: items.length - limit,
    });
  }
  return listOf(p.resource, items, rv);
}

function checkIdentity(p: ResourcePath, obj: KObject, needName: boolean): void {
  const meta = (obj.metadata ??= {});
  if (p.resource.namespaced) {
    if (meta.namespace && meta.namespace !== p.namespace) {
      throw new ApiError('BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    }
    meta.namespace = p.namespace;
  }
  if (needName && meta.name !== p.name) {
    throw new ApiError('BadRequest', 'the name of the object does not match the name on the URL');
  }
}

function patch(store: Store, p: ResourcePath, contentType: string, body: Buffer): KObject {
  const current = store.get(p.resource, p.namespace, p.name!);
  if (!current) throw notFound(p.resource, p.name!);
  let patched: Json;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === 'application/merge-patch+json') patched = mergePatch(current as Json, parseBody(body) as Json);
  else if (type === 'application/json-patch+json') patched = jsonPatch(current as Json, parseJson(body));
  else {
    // Strategic merge needs per-field merge keys from OpenAPI schemas; server-side apply needs
    // field management. Neither is served; Kubernetes answers CRDs' strategic patches the same way.
    throw new ApiError('UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json`);
  }
  const obj = patched as KObject;
  // A patch may carry metadata.resourceVersion as a precondition (409 when stale); else it applies
  // to the version just read.
  return store.update(p.resource, p.namespace, p.name!, obj, p.subresource === 'status' ? 'status' : 'main');
}

/** Handles one non-discovery API request. */
export function handleRest(store: Store, p: ResourcePath, method: string, url: URL, contentType: string, body: Buffer): RestResult {
  const q = url.searchParams;
  const r = p.resource;
  if (p.subresource !== undefined && (p.subresource !== 'status' || !r.status)) {
    throw new ApiError('NotFound', `the server could not find the requested resource (${r.plural}/${p.subresource})`);
  }
  if (r.namespaced && p.namespace !== undefined && p.name === undefined && method === 'POST') {
    if (!store.get(NAMESPACES, undefined, p.namespace)) throw notFound(NAMESPACES, p.namespace);
  }
  if (p.name === undefined) {
    const labels = parseLabelSelector(q.get('labelSelector'));
    const fields = parseFieldSelector(q.get('fieldSelector'), r.kind);
    switch (method) {
      case 'GET': {
        const w = q.get('watch');
        if (w === 'true' || w === '1') {
          const t = q.get('timeoutSeconds');
          return {
            watch: {
              filter: { resource: r, namespace: p.namespace, labels, fields },
              fromRv: q.get('resourceVersion') ?? '',
              ...(t !== null && Number(t) > 0 ? { timeoutSeconds: Number(t) } : {}),
              bookmarks: q.get('allowWatchBookmarks') === 'true',
            },
          };
        }
        return { status: 200, body: list(store, p, q, labels, fields) };
      }
      case 'POST': {
        const obj = parseBody(body);
        checkIdentity(p, obj, false);
        return { status: 201, body: store.create(r, obj) };
      }
      case 'DELETE': {
        const gone = store.list(r, p.namespace, labels, fields).map((o) => store.delete(r, o.metadata!.namespace, o.metadata!.name!));
        return { status: 200, body: listOf(r, gone, store.resourceVersion) };
      }
    }
    throw new ApiError('MethodNotAllowed', `${method} is not supported on a collection`);
  }
  switch (method) {
    case 'GET': {
      const o = store.get(r, p.namespace, p.name);
      if (!o) throw notFound(r, p.name);
      return { status: 200, body: o };
    }
    case 'PUT': {
      const obj = parseBody(body);
      checkIdentity(p, obj, true);
      return { status: 200, body: store.update(r, p.namespace, p.name, obj, p.subresource === 'status' ? 'status' : 'main') };
    }
    case 'PATCH':
      return { status: 200, body: patch(store, p, contentType, body) };
    case 'DELETE': {
      const opts = body.length > 0 ? parseBody(body) : {};
      const pre = (opts as { preconditions?: { resourceVersion?: string; uid?: string } }).preconditions;
      return { status: 200, body: store.delete(r, p.namespace, p.name, pre) };
    }
  }
  throw new ApiError('MethodNotAllowed', `${method} is not supported on an object`);
}
