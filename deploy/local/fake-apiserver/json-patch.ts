// JSON Patch (RFC 6902), client-node's default patch type (`application/json-patch+json`): a list of
// add/remove/replace/move/copy/test operations on JSON Pointer paths (RFC 6901). Any failing
// operation rejects the whole patch (RFC 6902 §5), which the server answers as 422 Invalid.

import { isDeepStrictEqual } from 'node:util';
import { ApiError } from './api-error.ts';
import type { Json } from './merge-patch.ts';

interface Op {
  op: string;
  path: string;
  from?: string;
  value?: Json;
}

type Container = Json[] | { [k: string]: Json };

function tokens(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw invalid(`bad JSON pointer "${pointer}"`);
  // RFC 6901 §4: ~1 before ~0.
  return pointer.slice(1).split('/').map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function invalid(msg: string): ApiError {
  return new ApiError('Invalid', `json patch: ${msg}`);
}

/** The parent container of a pointer and the last token. */
function locate(doc: Json, pointer: string): { parent: Container; key: string } {
  const ts = tokens(pointer);
  if (ts.length === 0) throw invalid('operations on the whole document are not supported');
  let cur: Json = doc;
  for (const t of ts.slice(0, -1)) {
    const next: Json | undefined = Array.isArray(cur) ? cur[Number(t)] : cur !== null && typeof cur === 'object' ? cur[t] : undefined;
    if (next === undefined || next === null || typeof next !== 'object') throw invalid(`path "${pointer}" does not exist`);
    cur = next;
  }
  return { parent: cur as Container, key: ts[ts.length - 1]! };
}

function index(arr: Json[], key: string, forInsert: boolean): number {
  if (forInsert && key === '-') return arr.length;
  const i = Number(key);
  const max = forInsert ? arr.length : arr.length - 1;
  if (!/^(0|[1-9]\d*)$/.test(key) || i > max) throw invalid(`array index "${key}" out of range`);
  return i;
}

function get(doc: Json, pointer: string): Json {
  const { parent, key } = locate(doc, pointer);
  const v = Array.isArray(parent) ? parent[index(parent, key, false)] : parent[key];
  if (v === undefined) throw invalid(`path "${pointer}" does not exist`);
  return v;
}

function add(doc: Json, pointer: string, value: Json): void {
  const { parent, key } = locate(doc, pointer);
  if (Array.isArray(parent)) parent.splice(index(parent, key, true), 0, structuredClone(value));
  else parent[key] = structuredClone(value);
}

function remove(doc: Json, pointer: string): Json {
  const { parent, key } = locate(doc, pointer);
  if (Array.isArray(parent)) return parent.splice(index(parent, key, false), 1)[0]!;
  if (!Object.hasOwn(parent, key)) throw invalid(`path "${pointer}" does not exist`);
  const v = parent[key]!;
  delete parent[key];
  return v;
}

export function jsonPatch(target: Json, ops: unknown): Json {
  if (!Array.isArray(ops)) throw invalid('body must be an array of operations');
  const doc = structuredClone(target);
  for (const raw of ops as Op[]) {
    if (typeof raw?.path !== 'string') throw invalid('operation without a path');
    switch (raw.op) {
      case 'add':
        add(doc, raw.path, raw.value ?? null);
        break;
      case 'remove':
        remove(doc, raw.path);
        break;
      case 'replace':
        remove(doc, raw.path);
        add(doc, raw.path, raw.value ?? null);
        break;
      case 'move':
        add(doc, raw.path, remove(doc, raw.from ?? ''));
        break;
      case 'copy':
        add(doc, raw.path, get(doc, raw.from ?? ''));
        break;
      case 'test':
        if (!isDeepStrictEqual(get(doc, raw.path), raw.value)) throw invalid(`test failed at "${raw.path}"`);
        break;
      default:
        throw invalid(`unknown operation "${String(raw.op)}"`);
    }
  }
  return doc;
}
