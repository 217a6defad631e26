// Kubernetes label selectors in their string form (`a=b,c!=d,e in (f,g),h notin (i),j,!k`), as
// sent in `labelSelector=` by informers and kubectl -l. Parsed once per request into a predicate.

import { ApiError } from './api-error.ts';

export type Labels = Record<string, string> | undefined;
export type Matcher = (labels: Labels) => boolean;

type Requirement =
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'exists' | '!'; key: string };

const KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Splits on commas that are not inside a parenthesised value set. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      terms.push(text.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(text.slice(start));
  return terms.map((t) => t.trim()).filter((t) => t !== '');
}

function parseTerm(term: string): Requirement {
  const bad = (why: string): ApiError => new ApiError('BadRequest', `unable to parse requirement "${term}": ${why}`);
  const check = (key: string, values: string[]): void => {
    if (!KEY.test(key)) throw bad(`invalid label key "${key}"`);
    for (const v of values) if (!VALUE.test(v)) throw bad(`invalid label value "${v}"`);
  };
  let m = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
  if (m) {
    const values = m[3]!.split(',').map((v) => v.trim());
    check(m[1]!, values);
    return { op: m[2] as 'in' | 'notin', key: m[1]!, values };
  }
  m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (m) {
    check(m[1]!, [m[3]!]);
    return { op: m[2] === '!=' ? 'notin' : 'in', key: m[1]!, values: [m[3]!] };
  }
  m = /^(!?)\s*([^=!\s()]+)$/.exec(term);
  if (m) {
    check(m[2]!, []);
    return { op: m[1] ? '!' : 'exists', key: m[2]! };
  }
  throw bad('unknown operator');
}

function test(r: Requirement, labels: Labels): boolean {
  const has = labels !== undefined && Object.hasOwn(labels, r.key);
  switch (r.op) {
    case 'exists':
      return has;
    case '!':
      return !has;
    case 'in':
      return has && r.values.includes(labels![r.key]!);
    case 'notin':
      // Kubernetes: `k!=v` and `k notin (v)` also match objects without the label.
      return !has || !r.values.includes(labels![r.key]!);
  }
}

/** Parses a selector string; an empty or absent selector matches everything. */
export function parseLabelSelector(text: string | null | undefined): Matcher {
  if (!text) return () => true;
  const reqs = splitTerms(text).map(parseTerm);
  return (labels) => reqs.every((r) => test(r, labels));
}
