// The controller in the emulated cluster (offset 82: API 127.0.90.1:6443, controller 127.0.91.1,
// proxies 127.0.92.k, pods 127.0.9(3..5).x), short windows (stable 6 s, grace 2 s). The Seika
// starts at zero pods: a cold request at node3 is answered by a new node3 pod; demand moving to
// node1 moves the pod there; idle, the revision scales to zero; no request fails on the way.
import t from 'tap';
import { request } from 'undici';
import { startCluster } from '../../deploy/local/cluster.ts';
import { defaultTopology, parseTopology, topologyDocument } from '../../deploy/local/topology.ts';
import { memoryLogger } from '../../lib/log.ts';
import { getText } from '../support/get-text.ts';
import { until } from '../support/until.ts';

const STABLE_WINDOW_MS = 6000;


// Booting a cluster costs a few seconds idle but minutes on a loaded shared 2-core machine.
t.setTimeout(300_000);

t.test('scale from zero at the entry node, follow demand, back to zero', { timeout: 290_000 }, async (t) => {
  const topology = parseTopology({ ...topologyDocument(defaultTopology()), pod: { serviceTime: '2ms', startupDelay: '50ms' } });
  const cluster = await startCluster({
    offset: 82,
    topology,
    withController: true,
    logger: memoryLogger('cluster'),
    readyTimeoutMs: 150_000,
    controllerArgs: ['--stable-window', `${STABLE_WINDOW_MS / 1000}s`, '--scale-to-zero-grace', '2s', '--lease-duration', '2s'],
  });
  t.teardown(() => cluster.close());
  const [node1, , node3] = cluster.nodes;
  const seika = () =>
    cluster.api.get({ apiVersion: 'batch.bonavadeur.io/v1', kind: 'Seika', namespace: 'default', name: 'hello' }) as {
      spec: { repurika: Record<string, number> };
      status?: { ready?: string };
    };
  t.same(seika().spec.repurika, { node1: 0, node2: 0, node3: 0 }, 'the demo starts with no pod');

  // 1. Cold request at node3: the proxy queues it and pokes; the controller places a node3 pod.
  const cold = await getText(`${node3!.ingressUrl}/`, cluster.host);
  t.equal(cold.status, 200);
  t.match(cold.body, /^Konnichiwa from hello-node3-[a-z0-9]{5} in node3\n$/, 'answered by a new node3 pod');
  t.same(seika().spec.repurika, { node1: 0, node2: 0, node3: 1 });
  await until('status 0-0-1/0-0-1', () => seika().status?.ready === '0-0-1/0-0-1', 20_000, 50);
  t.pass('kubectl get seika hello -o jsonpath={.status.ready} → 0-0-1/0-0-1');

  // 2. Demand moves to node1: a steady trickle of requests there (bounded: ≤ 1500 requests, 75 s).
  const statuses = new Map<number, number>();
  let stop = false;
  const load = (async () => {
    const until = Date.now() + 75_000;
    for (let i = 0; i < 1500 && !stop && Date.now() < until; i++) {
      const r = await getText(`${node1!.ingressUrl}/`, cluster.host);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      await new Promise((res) => setTimeout(res, 20));
    }
  })();
  const moved = Date.now();
  try {
    await until('the pod to move to node1', () => JSON.stringify(seika().spec.repurika) === '{"node1":1,"node2":0,"node3":0}', 4 * STABLE_WINDOW_MS, 50);
    t.comment(`pod moved ${Date.now() - moved} ms after demand moved (stable window ${STABLE_WINDOW_MS} ms)`);
    await until('node1 served locally', async () => /in node1\n$/.test((await getText(`${node1!.ingressUrl}/`, cluster.host)).body), 20_000, 50);
    t.pass('node1 requests now answered by a node1 pod');
  } finally {
    stop = true;
    await load;
  }
  t.same(Object.fromEntries(statuses), { 200: [...statuses.values()].reduce((a, b) => a + b, 0) }, "every request during the move answered 200");

  // 3. Idle: after the stable window and the grace the revision goes to zero.
  await until('zero pods', () => seika().status?.ready === '0-0-0/0-0-0', 6 * STABLE_WINDOW_MS, 50);
  t.same(seika().spec.repurika, { node1: 0, node2: 0, node3: 0 }, 'scaled to zero');
  // And from zero again, at node1 this time: nothing lost, a fresh node1 pod answers.
  const again = await getText(`${node1!.ingressUrl}/`, cluster.host);
  t.equal(again.status, 200);
  t.match(again.body, /in node1\n$/);

  const metrics = await (await request(`${cluster.controller!.adminUrl}/metrics`)).body.text();
  t.match(metrics, /ikukantai_controller_seika_patches_total\{result="ok"\} [1-9]/);
  t.match(metrics, /ikukantai_controller_desired_pods\{namespace="default",seika="hello",node="node1"\} 1/);
});
