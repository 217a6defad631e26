import t from 'tap';
import { createControllerMetrics } from '../../../controller/controller-metrics.ts';
import { SeikaPatcher } from '../../../controller/seika-patcher.ts';
import { memoryLogger } from '../../../lib/log.ts';
import { fakeCluster, kubeConfigOf, SEIKA_REF, seikaSpec } from './fixtures.ts';

const count = async (m: ReturnType<typeof createControllerMetrics>, result: string): Promise<number> =>
  (await m.seikaPatches.get()).values.find((v) => v.labels.result === result)?.value ?? -1;

t.test('merge-patches spec.repurika only on change, every node listed; 409 and 404 counted', async (t) => {
  const api = await fakeCluster();
  t.teardown(() => api.close());
  const metrics = createControllerMetrics();
  const logger = memoryLogger('controller');
  const patcher = new SeikaPatcher({ kubeConfig: kubeConfigOf(api), metrics, logger });
  const seika = () => api.get(SEIKA_REF) as { metadata: { resourceVersion: string }; spec: { selector: unknown } };
  const want = { node1: 0, node2: 0, node3: 1 };

  const rv0 = seika().metadata.resourceVersion;
  t.equal(await patcher.apply({ namespace: 'default', seika: 'hello', spec: {}, resourceVersion: rv0 }, want), 'ok');
  t.same(seikaSpec(api), want);
  t.ok(seika().spec.selector, 'a merge patch keeps the rest of the spec');
  t.equal(await count(metrics, 'ok'), 1);

  // The informer has not caught up (still rv0, spec {}): our own write counts as current.
  t.equal(await patcher.apply({ namespace: 'default', seika: 'hello', spec: {}, resourceVersion: rv0 }, want), 'unchanged');
  const rv1 = seika().metadata.resourceVersion;
  t.equal(await patcher.apply({ namespace: 'default', seika: 'hello', spec: want, resourceVersion: rv1 }, { ...want }), 'unchanged');
  t.equal(await count(metrics, 'ok'), 1, 'no request for an unchanged spec');

  // A node that is known but missing from the Seika is a change: every node must be listed.
  t.equal(await patcher.apply({ namespace: 'default', seika: 'hello', spec: want, resourceVersion: rv1 }, { ...want, node4: 0 }), 'ok');
  t.same(seikaSpec(api), { ...want, node4: 0 });

  // Someone else wrote since our cache (node agent status, a stale leader): 409, re-read, retry.
  const rv2 = seika().metadata.resourceVersion;
  api.apply({ ...(api.get(SEIKA_REF) as object), status: { repurika: { node3: 1 }, nodes: ['node3'], ready: '1/1' } } as never);
  t.equal(await patcher.apply({ namespace: 'default', seika: 'hello', spec: { ...want, node4: 0 }, resourceVersion: rv2 }, { node1: 2, node2: 0, node3: 1, node4: 0 }), 'ok');
  t.same(seikaSpec(api), { node1: 2, node2: 0, node3: 1, node4: 0 });
  t.equal(await count(metrics, 'conflict'), 1);
  t.equal(await count(metrics, 'ok'), 3);

  // A missing Seika is counted and logged once, never created.
  const missing = { namespace: 'default', seika: 'nope', spec: {}, resourceVersion: '1' };
  t.equal(await patcher.apply(missing, want), 'not_found');
  t.equal(await patcher.apply(missing, want), 'not_found');
  t.equal(await count(metrics, 'not_found'), 2);
  t.equal(logger.lines.filter((l) => l['event'] === 'seika_not_found').length, 1);
  t.equal(api.get({ ...SEIKA_REF, name: 'nope' }), undefined);

  // The API unreachable: an error, counted.
  await api.stop();
  t.equal(await patcher.apply({ namespace: 'default', seika: 'hello', spec: {}, resourceVersion: '1' }, want), 'error');
  t.equal(await count(metrics, 'error'), 1);
});
