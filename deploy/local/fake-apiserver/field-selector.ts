// Field selectors (`fieldSelector=metadata.name=hello`): kubectl sends one to get or watch a single
// object through its collection, and node agents watch their own pods by `spec.nodeName`. Like
// Kubernetes, only equality on a few fields per kind is supported; anything else is a 400.

import { ApiError } from './api-error.ts';

export type ObjectMatcher = (obj: Record<string, unknown>) => boolean;

const COMMON = ['metadata.name', 'metadata.namespace'];
const BY_KIND: Record<string, string[]> = {
  Pod: ['spec.nodeName', 'status.phase', 'status.podIP'],
};

function read(obj: Record<string, unknown>, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[part];
  }
  return typeof cur === 'string' ? cur : '';
}

export function parseFieldSelector(text: string | null | undefined, kind: string): ObjectMatcher {
  if (!text) return () => true;
  const allowed = [...COMMON, ...(BY_KIND[kind] ?? [])];
  const reqs = text.split(',').map((term) => {
    const m = /^\s*([A-Za-z.]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(term);
    if (!m) throw new ApiError('BadRequest', `invalid field selector "${term}"`);
    if (!allowed.includes(m[1]!)) {
      throw new ApiError('BadRequest', `field label not supported: ${m[1]}`);
    }
    return { path: m[1]!, equal: m[2] !== '!=', value: m[3]! };
  });
  return (obj) => reqs.every((r) => (read(obj, r.path) === r.value) === r.equal);
}
