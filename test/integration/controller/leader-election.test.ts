import t from 'tap';
import { LeaderElector } from '../../../controller/leader-election.ts';
import { memoryLogger } from '../../../lib/log.ts';
import { fakeCluster, kubeConfigOf, until } from './fixtures.ts';

t.test('one leader on the Lease; release and expiry hand it over', async (t) => {
  const api = await fakeCluster();
  t.teardown(() => api.close());
  const make = (identity: string): LeaderElector =>
    new LeaderElector({
      kubeConfig: kubeConfigOf(api),
      namespace: 'ikukantai-system',
      name: 'ikukantai-controller',
      identity,
      leaseDurationMs: 1500,
      logger: memoryLogger(identity),
    });
  const a = make('http://127.0.0.1:1001');
  const b = make('http://127.0.0.1:1002');
  const c = make('http://127.0.0.1:1003');
  t.teardown(async () => {
    await Promise.all([a.close(), b.close(), c.close()]);
  });
  a.start();
  await until('a leads', () => a.isLeader());
  b.start();
  await until('b sees a as leader', () => b.leaderUrl() === 'http://127.0.0.1:1001');
  t.notOk(b.isLeader());
  const lease = () =>
    api.get({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: 'ikukantai-system', name: 'ikukantai-controller' }) as {
      spec: { holderIdentity?: string; leaseTransitions: number };
    };
  t.equal(lease().spec.holderIdentity, 'http://127.0.0.1:1001', 'holderIdentity is the stats URL');

  // A clean stop releases the Lease: b takes over without waiting out the duration.
  await a.close();
  await until('b leads', () => b.isLeader());
  t.equal(lease().spec.holderIdentity, 'http://127.0.0.1:1002');
  t.equal(a.isLeader(), false);

  // A leader that vanishes without releasing (crash): c waits for the record to stay unchanged for
  // a whole lease duration by its own clock, then takes over.
  c.start();
  await until('c sees b', () => c.leaderUrl() === 'http://127.0.0.1:1002');
  await api.stop(); // b can no longer renew…
  await until('b steps down after its renew deadline', () => !b.isLeader());
  await b.close();
  await api.restart();
  await until('c leads after the lease expired', () => c.isLeader());
  t.equal(lease().spec.holderIdentity, 'http://127.0.0.1:1003');
  t.ok(lease().spec.leaseTransitions >= 2, 'transitions counted');
});
