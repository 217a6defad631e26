// Writes a Seika's `spec.repurika` (DESIGN.md §4): a JSON merge patch (RFC 7386) only when the
// counts differ from what the Seika holds, always listing every known node (zeros included, so a
// node dropped from the placement is scaled to 0 rather than left as it was). The patch carries the
// resourceVersion it was computed against, so a stale leader's write fails with 409 instead of
// undoing a newer one; after a conflict it reads the Seika once and tries again. A missing Seika is
// logged and counted, never created: the Seika belongs to whoever deployed the Service.

import { ApiException, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../lib/log.ts';
import type { ControllerMetrics, PatchResult } from './controller-metrics.ts';
import { SEIKA } from './revision-watcher.ts';
import type { SeikaLike } from './scale-targets.ts';

export interface SeikaRef {
  namespace: string;
  seika: string;
  /** `spec.repurika` as last seen (informer cache). */
  spec: Record<string, number>;
  resourceVersion?: string;
}

/** The key `retain` takes: `namespace/seika`, as the reconcile loop builds it too. */
export function seikaKey(namespace: string, seika: string): string {
  return `${namespace}/${seika}`;
}

export interface SeikaPatcherOptions {
  kubeConfig: KubeConfig;
  metrics: ControllerMetrics;
  logger: Logger;
}

export class SeikaPatcher {
  readonly #api: CustomObjectsApi;
  readonly #metrics: ControllerMetrics;
  readonly #logger: Logger;
  // What we last wrote per Seika and the resourceVersion it replaced: until the informer shows a
  // version other than that one, the cache is older than our write and must not trigger a re-patch.
  readonly #written = new Map<string, { basedOn: string | undefined; spec: Record<string, number> }>();
  readonly #missing = new Set<string>();

  constructor({ kubeConfig, metrics, logger }: SeikaPatcherOptions) {
    this.#api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.#metrics = metrics;
    this.#logger = logger;
  }

  /** Makes `spec.repurika` equal `want`; 'unchanged' when it already is (no request sent). */
  async apply(ref: SeikaRef, want: Record<string, number>): Promise<PatchResult | 'unchanged'> {
    const key = seikaKey(ref.namespace, ref.seika);
    const written = this.#written.get(key);
    const current = written && written.basedOn === ref.resourceVersion ? written.spec : ref.spec;
    if (sameCounts(current, want)) return 'unchanged';
    let result = await this.#patch(ref, want, ref.resourceVersion);
    if (result === 'conflict') {
      const fresh = await this.#read(ref);
      if (typeof fresh === 'string') return fresh;
      const freshSpec = fresh.spec?.repurika ?? {};
      if (sameCounts(freshSpec, want)) return 'unchanged';
      result = await this.#patch(ref, want, fresh.metadata?.resourceVersion);
    }
    return result;
  }

  /** Forgets Seikas no longer scaled. */
  retain(keys: ReadonlySet<string>): void {
    for (const key of this.#written.keys()) if (!keys.has(key)) this.#written.delete(key);
  }

  async #patch(ref: SeikaRef, want: Record<string, number>, resourceVersion: string | undefined): Promise<PatchResult> {
    const key = seikaKey(ref.namespace, ref.seika);
    const body = { metadata: resourceVersion ? { resourceVersion } : {}, spec: { repurika: want } };
    try {
      await this.#api.patchNamespacedCustomObject(
        { ...SEIKA, namespace: ref.namespace, name: ref.seika, body },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (err) {
      return this.#failed(ref, err);
    }
    this.#written.set(key, { basedOn: resourceVersion, spec: { ...want } });
    this.#missing.delete(key);
    this.#metrics.seikaPatches.inc({ result: 'ok' });
    this.#logger.info('seika_patched', { namespace: ref.namespace, seika: ref.seika, repurika: want });
    return 'ok';
  }

  async #read(ref: SeikaRef): Promise<SeikaLike | PatchResult> {
    try {
      return (await this.#api.getNamespacedCustomObject({ ...SEIKA, namespace: ref.namespace, name: ref.seika })) as SeikaLike;
    } catch (err) {
      return this.#failed(ref, err);
    }
  }

  #failed(ref: SeikaRef, err: unknown): PatchResult {
    const code = err instanceof ApiException ? err.code : undefined;
    const result: PatchResult = code === 409 ? 'conflict' : code === 404 ? 'not_found' : 'error';
    this.#metrics.seikaPatches.inc({ result });
    const key = seikaKey(ref.namespace, ref.seika);
    if (result === 'not_found') {
      // Once per disappearance, not once per tick.
      if (!this.#missing.has(key)) this.#logger.warn('seika_not_found', { code: 'seika_not_found', namespace: ref.namespace, seika: ref.seika });
      this.#missing.add(key);
    } else if (result === 'error') {
      this.#logger.warn('seika_patch_failed', { code: 'seika_patch_failed', namespace: ref.namespace, seika: ref.seika, msg: (err as Error).message });
    }
    return result;
  }
}

/** Same nodes with the same counts: a known node missing from the Seika is a change (it must be listed). */
export function sameCounts(a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
