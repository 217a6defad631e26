import t from 'tap';
import { PodThrottler, type Lease } from '../../../../proxy/concurrency/pod-throttler.ts';

const pods = (...keys: string[]) => keys.map((key) => ({ key, eligible: true }));

t.test('cc=1: one slot per pod, the excess waits and is granted in FIFO order', async (t) => {
  const th = new PodThrottler({ cc: 1, maxQueued: 10 });
  th.setPods(pods('a', 'b'));
  const l1 = th.tryAcquire()!;
  const l2 = th.tryAcquire()!;
  t.ok(l1 && l2);
  t.not(l1.pod.key, l2.pod.key, 'the second request goes to the free pod');
  t.equal(th.tryAcquire(), undefined, 'both pods full');
  const got: Array<[string, Lease]> = [];
  th.enqueue((l) => got.push(['w1', l]));
  th.enqueue((l) => got.push(['w2', l]));
  th.enqueue((l) => got.push(['w3', l]));
  t.equal(th.queued, 3);
  l2.release();
  t.same(got.map(([n, l]) => [n, l.pod.key]), [['w1', l2.pod.key]], 'oldest waiter gets the freed slot');
  l1.release();
  t.same(got.map(([n]) => n), ['w1', 'w2']);
  t.equal(th.queued, 1);
  got[0]![1].release();
  t.same(got.map(([n]) => n), ['w1', 'w2', 'w3']);
  t.equal(th.queued, 0);
  for (const [, l] of got) l.release();
  t.equal(th.pod('a')!.inflight + th.pod('b')!.inflight, 0);
});

t.test('the queue bound: enqueue refuses at maxQueued (the caller answers 503 queue_full)', async (t) => {
  const th = new PodThrottler({ cc: 1, maxQueued: 2 });
  th.setPods(pods('a'));
  t.ok(th.tryAcquire());
  t.ok(th.enqueue(() => {}));
  t.ok(th.enqueue(() => {}));
  t.equal(th.enqueue(() => {}), undefined);
  t.equal(th.queued, 2);
});

t.test('a cancelled waiter is never granted and its slot goes to the next one', async (t) => {
  const th = new PodThrottler({ cc: 1, maxQueued: 5 });
  th.setPods(pods('a'));
  const held = th.tryAcquire()!;
  let cancelledGranted = false;
  const gone = th.enqueue(() => (cancelledGranted = true))!;
  let next: Lease | undefined;
  th.enqueue((l) => (next = l));
  th.cancel(gone);
  t.equal(th.queued, 1);
  held.release();
  t.equal(cancelledGranted, false);
  t.equal(next?.pod.key, 'a');
  t.equal(th.pod('a')!.inflight, 1);
});

t.test('release twice is safe: frees one slot and grants one waiter', async (t) => {
  const th = new PodThrottler({ cc: 1, maxQueued: 5 });
  th.setPods(pods('a'));
  const l = th.tryAcquire()!;
  const granted: Lease[] = [];
  th.enqueue((x) => granted.push(x));
  th.enqueue((x) => granted.push(x));
  l.release();
  l.release();
  t.equal(granted.length, 1, 'the second release grants nobody');
  t.equal(th.pod('a')!.inflight, 1, 'the count is the granted waiter only');
  granted[0]!.release();
  granted[0]!.release();
  t.equal(granted.length, 2);
  granted[1]!.release();
  t.equal(th.pod('a')!.inflight, 0, 'never negative');
});

t.test('the preferred pod is taken when it has room, else the least loaded one', async (t) => {
  const th = new PodThrottler({ cc: 2, maxQueued: 5 });
  th.setPods(pods('a', 'b', 'c'));
  t.equal(th.tryAcquire('c')!.pod.key, 'c');
  t.equal(th.tryAcquire('c')!.pod.key, 'c');
  const third = th.tryAcquire('c')!;
  t.not(third.pod.key, 'c', 'c is full: another pod');
  const fourth = th.tryAcquire('c')!;
  t.not(fourth.pod.key, third.pod.key, 'the least loaded of the others');
  t.not(fourth.pod.key, 'c');
  t.equal(th.tryAcquire('nope')!.pod.key !== 'c', true, 'unknown preference falls back to any pod');
});

t.test('a preferred pod that is not eligible is never chosen', async (t) => {
  const th = new PodThrottler({ cc: 1, maxQueued: 5 });
  th.setPods([{ key: 'a', eligible: false }, { key: 'b', eligible: true }]);
  t.equal(th.hasEligible, true);
  t.equal(th.tryAcquire('a')!.pod.key, 'b');
  t.equal(th.tryAcquire('a'), undefined, 'a is not ready, b is full');
  th.setPods([{ key: 'a', eligible: false }]);
  t.equal(th.hasEligible, false);
});

t.test('cc=0 is unlimited: nothing ever queues', async (t) => {
  const th = new PodThrottler({ cc: 0, maxQueued: 1 });
  th.setPods(pods('a'));
  const leases = [];
  for (let i = 0; i < 1000; i++) {
    const l = th.tryAcquire('a');
    if (!l) break;
    leases.push(l);
  }
  t.equal(leases.length, 1000);
  t.equal(th.pod('a')!.inflight, 1000);
  for (const l of leases) l.release();
  t.equal(th.pod('a')!.inflight, 0);
});

t.test('no eligible pod: tryAcquire fails, waiters are granted when a pod becomes ready', async (t) => {
  const th = new PodThrottler({ cc: 1, maxQueued: 5 });
  th.setPods([{ key: 'a', eligible: false }]);
  t.equal(th.tryAcquire(), undefined);
  const got: Lease[] = [];
  th.enqueue((l) => got.push(l));
  th.enqueue((l) => got.push(l));
  th.setPods([{ key: 'a', eligible: true }, { key: 'b', eligible: true }]);
  t.same(got.map((l) => l.pod.key).sort(), ['a', 'b'], 'both waiters granted, one per pod');
  t.equal(th.queued, 0);
});

t.test('raising cc grants waiting requests at the next pod update', async (t) => {
  const th = new PodThrottler({ cc: 1, maxQueued: 5 });
  th.setPods(pods('a'));
  th.tryAcquire();
  const got: Lease[] = [];
  th.enqueue((l) => got.push(l));
  th.cc = 2;
  th.setPods(pods('a'));
  t.equal(got.length, 1);
  t.equal(th.pod('a')!.inflight, 2);
});

t.test('a pod that leaves keeps its in-flight requests but gets nothing new', async (t) => {
  const th = new PodThrottler({ cc: 1, maxQueued: 5 });
  th.setPods(pods('a', 'b'));
  const onA = th.tryAcquire('a')!;
  const onB = th.tryAcquire('b')!;
  const got: Lease[] = [];
  th.enqueue((l) => got.push(l));
  th.setPods(pods('b'));
  t.equal(th.pod('a')?.eligible ?? false, false, 'a takes nothing new');
  t.equal(onA.pod.inflight, 1, 'its request still counts on its own slot');
  t.equal(onA.pod.eligible, false);
  onA.release();
  t.equal(got.length, 0, 'a freed slot on a departed pod is not handed out');
  t.equal(onA.pod.inflight, 0);
  onB.release();
  t.equal(got[0]?.pod.key, 'b', 'the waiter goes to the pod that stayed');
});

t.test('counts survive a pod update for pods that stay; a terminating pod drains', async (t) => {
  const th = new PodThrottler({ cc: 1, maxQueued: 5 });
  th.setPods(pods('a'));
  const l = th.tryAcquire()!;
  th.setPods(pods('a', 'b'));
  t.equal(th.pod('a')!.inflight, 1, 'in-flight count kept across the update');
  t.equal(th.tryAcquire('a')!.pod.key, 'b', 'a is still full after the update');
  th.setPods([{ key: 'a', eligible: false }, { key: 'b', eligible: true }]);
  t.equal(th.pod('a')!.inflight, 1, 'a terminating pod keeps its request');
  const got: Lease[] = [];
  th.enqueue((x) => got.push(x));
  l.release();
  t.equal(got.length, 0, 'a terminating pod gets no waiter');
  t.equal(th.pod('a')!.inflight, 0);
});

t.test('a waiter released from inside its grant hands the slot on in order', async (t) => {
  // Exchange releases at once when its client left between queueing and the grant.
  const th = new PodThrottler({ cc: 1, maxQueued: 5 });
  th.setPods(pods('a'));
  const held = th.tryAcquire()!;
  const order: string[] = [];
  th.enqueue((l) => {
    order.push('gone');
    l.release();
  });
  let kept: Lease | undefined;
  th.enqueue((l) => {
    order.push('kept');
    kept = l;
  });
  held.release();
  t.same(order, ['gone', 'kept']);
  t.equal(th.pod('a')!.inflight, 1);
  t.equal(th.queued, 0);
  kept!.release();
  t.equal(th.pod('a')!.inflight, 0);
});

t.test('a pod listed again while its requests drain keeps its true in-flight count', async (t) => {
  // An endpoint moving between two EndpointSlices can reach the merged view as a removal, then an
  // add. With cc=1 the pod must not get a second request while the first is still running.
  const th = new PodThrottler({ cc: 1, maxQueued: 5 });
  th.setPods(pods('a'));
  const first = th.tryAcquire('a')!;
  th.setPods([]);
  th.setPods(pods('a'));
  t.equal(th.pod('a')!.inflight, 1, 'the running request still counts');
  t.equal(th.tryAcquire('a'), undefined, 'no second slot on a cc=1 pod');
  const got: Lease[] = [];
  th.enqueue((l) => got.push(l));
  first.release();
  t.equal(got[0]?.pod.key, 'a', 'the waiter gets the slot the first request freed');
  t.equal(th.pod('a')!.inflight, 1);
  got[0]!.release();
  th.setPods([]);
  t.equal(th.pod('a'), undefined, 'a departed pod with nothing in flight is forgotten');
  t.equal(th.inflight, 0);
});
