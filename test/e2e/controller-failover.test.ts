// Leader failover inside the emulated cluster (offset 220: API 127.0.228.1:6443, controller Service
// 127.0.229.1:8080 in front of replicas 127.0.229.2 and .3, proxies 127.0.230.k, pods
// 127.0.23(1..3).x), as the two-replica Deployment runs in a real cluster: the proxies report to
// the Service, whichever replica gets a report forwards it to the leader, only the leader patches
// the Seika. The leader is SIGKILLed (a crash: no Lease release) while demand moves from node3 to
// node1; the other replica takes the Lease once it expires, and it is the one that moves the pod.
// No request fails on the way: the data plane never waits on the controller.
import t from 'tap';
import { request } from 'undici';
import { startCluster } from '../../deploy/local/cluster.ts';
import { defaultTopology, parseTopology, topologyDocument } from '../../deploy/local/topology.ts';
import { memoryLogger } from '../../lib/log.ts';
import { until } from '../support/until.ts';
import { getText } from '../support/get-text.ts';

const STABLE_WINDOW_MS = 6000;
const LEASE_MS = 2000;

// Booting a cluster costs a few seconds idle but minutes on a loaded shared 2-core machine.
t.setTimeout(300_000);

t.test('the leader dies while demand moves; the other replica takes over and moves the pod', { timeout: 290_000 }, async (t) => {
  const topology = parseTopology({ ...topologyDocument(defaultTopology()), pod: { serviceTime: '2ms', startupDelay: '50ms' } });
  const cluster = await startCluster({
    offset: 220,
    topology,
    withController: true,
    controllers: 2,
    logger: memoryLogger('cluster'),
    readyTimeoutMs: 150_000,
    controllerArgs: ['--stable-window', `${STABLE_WINDOW_MS / 1000}s`, '--scale-to-zero-grace', '2s', '--lease-duration', `${LEASE_MS / 1000}s`],
  });
  t.teardown(() => cluster.close());
  const replicas = cluster.controllerReplicas!;
  t.equal(replicas.length, 2);
  const [node1, , node3] = cluster.nodes;
  const seika = () =>
    cluster.api.get({ apiVersion: 'batch.bonavadeur.io/v1', kind: 'Seika', namespace: 'default', name: 'hello' }) as {
      spec: { repurika: Record<string, number> };
    };
  const holder = (): string | undefined =>
    (cluster.api.get({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: 'ikukantai-system', name: 'ikukantai-controller' }) as
      | { spec?: { holderIdentity?: string } }
      | undefined)?.spec?.holderIdentity;

  await until('a replica holds the Lease', () => replicas.some((r) => r.statsUrl === holder()), 20_000, 50);
  const leader = replicas.find((r) => r.statsUrl === holder())!;
  const follower = replicas.find((r) => r !== leader)!;

  // 1. Cold request at node3: its poke reaches a replica through the Service; the leader patches.
  const cold = await getText(`${node3!.ingressUrl}/`, cluster.host);
  t.equal(cold.status, 200);
  t.match(cold.body, /in node3\n$/, 'answered by a new node3 pod');
  t.same(seika().spec.repurika, { node1: 0, node2: 0, node3: 1 });

  // 2. Demand moves to node1 (bounded: ≤ 2000 requests, 90 s), and the leader crashes.
  const statuses = new Map<number, number>();
  let stop = false;
  const load = (async () => {
    const end = Date.now() + 90_000;
    for (let i = 0; i < 2000 && !stop && Date.now() < end; i++) {
      const r = await getText(`${node1!.ingressUrl}/`, cluster.host);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      await new Promise((res) => setTimeout(res, 20));
    }
  })();
  try {
    process.kill(leader.process.pid!, 'SIGKILL');
    await leader.process.exited;
    await until('the follower to take the Lease', () => holder() === follower.statsUrl, 10 * LEASE_MS, 50);
    t.pass(`the Lease went from ${leader.statsUrl} to ${follower.statsUrl}`);
    await until('the pod to move to node1', () => JSON.stringify(seika().spec.repurika) === '{"node1":1,"node2":0,"node3":0}', 6 * STABLE_WINDOW_MS, 50);
    await until('node1 served locally', async () => /in node1\n$/.test((await getText(`${node1!.ingressUrl}/`, cluster.host)).body), 20_000, 50);
    t.pass('node1 requests now answered by a node1 pod');
  } finally {
    stop = true;
    await load;
  }
  const total = [...statuses.values()].reduce((a, b) => a + b, 0);
  t.same(Object.fromEntries(statuses), { 200: total }, `all ${total} requests during the failover answered 200`);

  const metrics = await (await request(`${follower.adminUrl}/metrics`)).body.text();
  t.match(metrics, /ikukantai_controller_seika_patches_total\{result="ok"\} [1-9]/, 'the new leader patched the Seika');
});
