// Which revisions the controller scales and into which Seika (DESIGN.md §4), as a pure mapping of
// the cached Revisions and Seikas: every Knative Service that has a Seika named after it (same
// namespace) is scaled for its newest Ready revision (label `serving.knative.dev/service`, newest
// by creationTimestamp, then by name). A Service without a Ready revision is not scaled: there is
// nothing it could serve.

import type { RevisionLike } from '../proxy/endpoints/slice-mapping.ts';

export type { RevisionLike };

export const SERVICE_LABEL = 'serving.knative.dev/service';

export interface SeikaLike {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  spec?: { repurika?: Record<string, number> | null };
  status?: { repurika?: Record<string, number> | null };
}

export interface RevisionWithAnnotations extends RevisionLike {
  metadata?: RevisionLike['metadata'] & { annotations?: Record<string, string> };
}

export interface ScaleTarget {
  namespace: string;
  /** The Seika, named after the Knative Service. */
  seika: string;
  /** The revision whose demand drives it. */
  revision: string;
  containerConcurrency: number;
  annotations: Record<string, string>;
  /** `spec.repurika` now. */
  spec: Record<string, number>;
  /** `status.repurika`: ready pods per node. */
  ready: Record<string, number>;
  resourceVersion?: string;
}

export function scaleTargets(revisions: readonly RevisionWithAnnotations[], seikas: readonly SeikaLike[]): ScaleTarget[] {
  const newest = new Map<string, RevisionWithAnnotations>();
  for (const r of revisions) {
    const service = r.metadata?.labels?.[SERVICE_LABEL];
    const namespace = r.metadata?.namespace;
    if (!service || !namespace || !r.metadata?.name || !isReady(r)) continue;
    const key = `${namespace}/${service}`;
    const best = newest.get(key);
    if (!best || newer(r, best)) newest.set(key, r);
  }
  const out: ScaleTarget[] = [];
  for (const s of seikas) {
    const namespace = s.metadata?.namespace;
    const name = s.metadata?.name;
    const rev = namespace && name ? newest.get(`${namespace}/${name}`) : undefined;
    if (!rev) continue;
    out.push({
      namespace: namespace!,
      seika: name!,
      revision: rev.metadata!.name!,
      containerConcurrency: rev.spec?.containerConcurrency ?? 0,
      annotations: rev.metadata?.annotations ?? {},
      spec: counts(s.spec?.repurika),
      ready: counts(s.status?.repurika),
      resourceVersion: s.metadata?.resourceVersion,
    });
  }
  return out.sort((a, b) => `${a.namespace}/${a.seika}`.localeCompare(`${b.namespace}/${b.seika}`));
}

function isReady(r: RevisionLike): boolean {
  return r.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function newer(a: RevisionLike, b: RevisionLike): boolean {
  const ta = time(a.metadata?.creationTimestamp);
  const tb = time(b.metadata?.creationTimestamp);
  if (ta !== tb) return ta > tb;
  return (a.metadata?.name ?? '') > (b.metadata?.name ?? '');
}

function time(t: string | Date | undefined): number {
  const ms = t === undefined ? NaN : new Date(t).getTime();
  return Number.isNaN(ms) ? -Infinity : ms;
}

/** Keeps only whole, non-negative counts (a hand-edited Seika may hold anything). */
function counts(m: Record<string, number> | null | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [node, n] of Object.entries(m ?? {})) if (Number.isSafeInteger(n) && n >= 0) out[node] = n;
  return out;
}
