// The fake API server's state: objects by resource, one resourceVersion counter for everything
// (as etcd's revision is), a bounded history of change events so a watch can resume from a
// version it saw, and the fan-out of new events to open watches. A watch resuming from a version
// older than the history gets 410 Expired, exactly the case informers must survive by relisting.
// Writes follow the API server's rules that clients observe: 409 on a stale resourceVersion, the
// status subresource split, generation bumps on spec changes, no event for a no-op write.

import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { ApiError, expired } from './api-error.ts';
import type { ObjectMatcher } from './field-selector.ts';
import type { Matcher } from './label-selector.ts';
import { apiVersionOf, resourceKey, type ResourceRegistry, type ResourceType } from './resources.ts';

export type KObject = Record<string, unknown> & { metadata?: Meta };

export interface Meta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [k: string]: unknown;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface Change {
  rv: number;
  resource: string;
  type: EventType;
  object: KObject;
  /** The object before a MODIFIED, so a label-selected watch can see it enter or leave. */
  prev?: KObject;
}

export interface WatchFilter {
  resource: ResourceType;
  namespace?: string;
  labels: Matcher;
  fields: ObjectMatcher;
}

export type WatchSink = (type: EventType, object: KObject) => void;

/** How a write treats `status`: `main` keeps the stored status, `status` changes only status. */
export type WriteMode = 'main' | 'status' | 'raw';

export interface StoreOptions {
  registry: ResourceRegistry;
  /** Change events kept for resuming watches; older versions get 410 (default 5000). */
  historyLimit?: number;
}

const GENERATE_SUFFIX = 'bcdfghjklmnpqrstvwxz2456789';

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function objKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

/** Everything but metadata and status: what `generation` counts changes of. */
function specPart(o: KObject): KObject {
  const { metadata: _m, status: _s, ...rest } = o;
  return rest;
}

export class Store {
  readonly registry: ResourceRegistry;
  readonly #historyLimit: number;
  #rv = 0;
  /** Lowest version a watch may resume from; every change after it is in #history. */
  #floor = 0;
  #history: Change[] = [];
  readonly #objects = new Map<string, Map<string, KObject>>();
  readonly #watchers = new Set<{ filter: WatchFilter; sink: WatchSink }>();

  constructor({ registry, historyLimit = 5000 }: StoreOptions) {
    this.registry = registry;
    this.#historyLimit = historyLimit;
  }

  get resourceVersion(): string {
    return String(this.#rv);
  }

  /** Oldest resourceVersion a watch or continue token may still name. */
  get oldestResourceVersion(): number {
    return this.#floor;
  }

  /**
   * Drops the whole change history, as an etcd compaction does, at a fresh version: every watch
   * resuming from a version seen before now gets 410 Expired; a relist gets the new version.
   */
  compact(): void {
    this.#rv++;
    this.#floor = this.#rv;
    this.#history = [];
  }

  #bucket(r: ResourceType): Map<string, KObject> {
    const key = resourceKey(r);
    let b = this.#objects.get(key);
    if (!b) this.#objects.set(key, (b = new Map()));
    return b;
  }

  list(r: ResourceType, namespace: string | undefined, labels: Matcher, fields: ObjectMatcher): KObject[] {
    const out: KObject[] = [];
    for (const o of this.#bucket(r).values()) {
      if (matches({ resource: r, namespace, labels, fields }, o)) out.push(structuredClone(o));
    }
    return out.sort((a, b) => objKey(a.metadata?.namespace, a.metadata!.name!).localeCompare(objKey(b.metadata?.namespace, b.metadata!.name!)));
  }

  get(r: ResourceType, namespace: string | undefined, name: string): KObject | undefined {
    const o = this.#bucket(r).get(objKey(r.namespaced ? namespace : undefined, name));
    return o && structuredClone(o);
  }

  #mustGet(r: ResourceType, namespace: string | undefined, name: string): KObject {
    const o = this.#bucket(r).get(objKey(r.namespaced ? namespace : undefined, name));
    if (!o) throw notFound(r, name);
    return o;
  }

  create(r: ResourceType, input: KObject, mode: WriteMode = 'main'): KObject {
    const obj = structuredClone(input);
    const meta: Meta = (obj.metadata ??= {});
    if (!meta.name && meta.generateName) {
      let suffix = '';
      for (let i = 0; i < 5; i++) suffix += GENERATE_SUFFIX[Math.floor(Math.random() * GENERATE_SUFFIX.length)];
      meta.name = meta.generateName + suffix;
    }
    if (!meta.name) throw new ApiError('Invalid', `${r.kind} "": metadata.name: Required value: name or generateName is required`, { kind: r.kind, group: r.group });
    if (r.namespaced && !meta.namespace) throw new ApiError('BadRequest', 'the namespace of the provided object is missing');
    if (!r.namespaced) delete meta.namespace;
    const bucket = this.#bucket(r);
    const key = objKey(meta.namespace, meta.name);
    if (bucket.has(key)) {
      throw new ApiError('AlreadyExists', `${r.plural}${r.group ? '.' + r.group : ''} "${meta.name}" already exists`, details(r, meta.name));
    }
    // Kubernetes drops a client-sent status when the kind has a status subresource.
    if (r.status && mode !== 'raw') delete obj.status;
    obj.apiVersion = apiVersionOf(r);
    obj.kind = r.kind;
    meta.uid = randomUUID();
    // The server stamps creation time; only the direct test helpers (`raw`) may set it.
    if (mode !== 'raw' || !meta.creationTimestamp) meta.creationTimestamp = now();
    meta.generation = 1;
    meta.resourceVersion = String(++this.#rv);
    bucket.set(key, obj);
    this.#emit({ rv: this.#rv, resource: resourceKey(r), type: 'ADDED', object: obj });
    return structuredClone(obj);
  }

  /** PUT semantics; `input.metadata.resourceVersion`, when set, must be the stored one (else 409). */
  update(r: ResourceType, namespace: string | undefined, name: string, input: KObject, mode: WriteMode = 'main'): KObject {
    const old = this.#mustGet(r, namespace, name);
    const oldMeta = old.metadata!;
    const want = input.metadata?.resourceVersion;
    if (want !== undefined && want !== '' && want !== oldMeta.resourceVersion) {
      throw new ApiError(
        'Conflict',
        `Operation cannot be fulfilled on ${r.plural}${r.group ? '.' + r.group : ''} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        details(r, name),
      );
    }
    let next: KObject;
    if (mode === 'status') {
      next = structuredClone(old);
      if (input.status === undefined) delete next.status;
      else next.status = structuredClone(input.status);
    } else {
      next = structuredClone(input);
      next.metadata = { ...structuredClone(next.metadata ?? {}), name, uid: oldMeta.uid, creationTimestamp: oldMeta.creationTimestamp };
      if (r.namespaced) next.metadata.namespace = oldMeta.namespace;
      else delete next.metadata.namespace;
      if (r.status && mode === 'main') {
        if (old.status === undefined) delete next.status;
        else next.status = structuredClone(old.status);
      }
    }
    next.apiVersion = apiVersionOf(r);
    next.kind = r.kind;
    next.metadata!.resourceVersion = oldMeta.resourceVersion;
    next.metadata!.generation = (oldMeta.generation ?? 1) + (isDeepStrictEqual(specPart(next), specPart(old)) ? 0 : 1);
    // A write that changes nothing keeps the version and wakes no watch, as in Kubernetes.
    if (isDeepStrictEqual(next, old)) return structuredClone(old);
    next.metadata!.resourceVersion = String(++this.#rv);
    this.#bucket(r).set(objKey(next.metadata!.namespace, name), next);
    this.#emit({ rv: this.#rv, resource: resourceKey(r), type: 'MODIFIED', object: next, prev: old });
    return structuredClone(next);
  }

  delete(r: ResourceType, namespace: string | undefined, name: string, pre?: { resourceVersion?: string; uid?: string }): KObject {
    const old = this.#mustGet(r, namespace, name);
    const meta = old.metadata!;
    if ((pre?.resourceVersion && pre.resourceVersion !== meta.resourceVersion) || (pre?.uid && pre.uid !== meta.uid)) {
      throw new ApiError('Conflict', `Precondition failed for ${r.plural} "${name}": the object has been modified`, details(r, name));
    }
    if (r.kind === 'Namespace' && r.group === '') this.#deleteNamespaceContents(name);
    this.#bucket(r).delete(objKey(meta.namespace, name));
    const gone = structuredClone(old);
    gone.metadata!.resourceVersion = String(++this.#rv);
    this.#emit({ rv: this.#rv, resource: resourceKey(r), type: 'DELETED', object: gone });
    return structuredClone(gone);
  }

  /** Kubernetes deletes everything in a namespace with it (here at once, without a Terminating phase). */
  #deleteNamespaceContents(ns: string): void {
    for (const r of this.registry.all) {
      if (!r.namespaced) continue;
      for (const o of [...this.#bucket(r).values()]) {
        if (o.metadata!.namespace === ns) this.delete(r, ns, o.metadata!.name!);
      }
    }
  }

  /**
   * Opens a watch from `fromRv`: '' or '0' first sends every current object as ADDED; a number
   * replays the retained changes after it. Throws 410 Expired when that number is too old.
   * Returns the function that ends the watch.
   */
  watch(filter: WatchFilter, fromRv: string, sink: WatchSink): () => void {
    if (fromRv === '' || fromRv === '0') {
      for (const o of this.list(filter.resource, filter.namespace, filter.labels, filter.fields)) sink('ADDED', o);
    } else {
      const from = Number(fromRv);
      if (!Number.isSafeInteger(from) || from < 0) throw new ApiError('BadRequest', `invalid resource version "${fromRv}"`);
      if (from < this.#floor) throw expired(fromRv, this.#floor);
      const key = resourceKey(filter.resource);
      for (const c of this.#history) if (c.rv > from && c.resource === key) deliver(filter, sink, c);
    }
    const w = { filter, sink };
    this.#watchers.add(w);
    return () => this.#watchers.delete(w);
  }

  #emit(c: Change): void {
    this.#history.push(c);
    if (this.#history.length > this.#historyLimit) this.#floor = this.#history.shift()!.rv;
    for (const w of [...this.#watchers]) {
      if (resourceKey(w.filter.resource) === c.resource) deliver(w.filter, w.sink, c);
    }
  }
}

function matches(f: WatchFilter, o: KObject): boolean {
  if (f.resource.namespaced && f.namespace !== undefined && o.metadata?.namespace !== f.namespace) return false;
  return f.labels(o.metadata?.labels) && f.fields(o);
}

/** A MODIFIED that moves an object into or out of a selector is seen as ADDED or DELETED. */
function deliver(f: WatchFilter, sink: WatchSink, c: Change): void {
  const now = matches(f, c.object);
  if (c.type !== 'MODIFIED') {
    if (now) sink(c.type, structuredClone(c.object));
    return;
  }
  const before = matches(f, c.prev!);
  if (now) sink(before ? 'MODIFIED' : 'ADDED', structuredClone(c.object));
  else if (before) sink('DELETED', structuredClone(c.object));
}

function details(r: ResourceType, name: string): { name: string; group: string; kind: string } {
  return { name, group: r.group, kind: r.plural };
}

export function notFound(r: ResourceType, name: string): ApiError {
  return new ApiError('NotFound', `${r.plural}${r.group ? '.' + r.group : ''} "${name}" not found`, details(r, name));
}
