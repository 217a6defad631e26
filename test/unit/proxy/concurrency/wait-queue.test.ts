import t from 'tap';
import { WaitQueue } from '../../../../proxy/concurrency/wait-queue.ts';

t.test('grants in FIFO order, one value per waiter', async (t) => {
  const q = new WaitQueue<number>(10);
  const got: string[] = [];
  for (const name of ['a', 'b', 'c']) q.push((v) => got.push(`${name}${v}`));
  t.equal(q.size, 3);
  t.equal(q.grant(1), true);
  t.equal(q.grant(2), true);
  t.equal(q.grant(3), true);
  t.equal(q.grant(4), false, 'nobody left');
  t.same(got, ['a1', 'b2', 'c3']);
  t.equal(q.size, 0);
});

t.test('the bound is checked before queueing; cancelled waiters free their place', async (t) => {
  const q = new WaitQueue<void>(2);
  const a = q.push(() => {});
  const b = q.push(() => {});
  t.ok(a && b);
  t.equal(q.push(() => {}), undefined, 'third waiter refused at bound 2');
  q.cancel(a!);
  t.equal(q.size, 1);
  t.ok(q.push(() => {}), 'room again after a cancel');
  t.equal(q.push(() => {}), undefined);
});

t.test('a cancelled waiter is never granted and cancelling twice is harmless', async (t) => {
  const q = new WaitQueue<string>(5);
  const got: string[] = [];
  const a = q.push((v) => got.push(`a:${v}`))!;
  q.push((v) => got.push(`b:${v}`));
  q.cancel(a);
  q.cancel(a);
  t.equal(q.size, 1, 'cancel twice counts once');
  t.equal(a.live, false);
  t.equal(q.grant('x'), true);
  t.same(got, ['b:x'], 'the cancelled head is skipped');
  t.equal(q.grant('y'), false);
});

t.test('cancel after grant changes nothing', async (t) => {
  const q = new WaitQueue<number>(5);
  const a = q.push(() => {})!;
  q.push(() => {});
  t.equal(q.grant(1), true);
  t.equal(a.live, false, 'granted ticket is no longer live');
  q.cancel(a);
  t.equal(q.size, 1, 'the other waiter still counts');
});

t.test('shift hands the oldest live ticket to the caller without granting', async (t) => {
  const q = new WaitQueue<number>(5);
  let granted = 0;
  const a = q.push(() => granted++)!;
  const b = q.push(() => granted++)!;
  q.cancel(a);
  const s = q.shift();
  t.equal(s, b);
  t.equal(s!.live, false);
  t.equal(granted, 0);
  t.equal(q.shift(), undefined);
});

t.test('lowering the bound drops nobody already waiting', async (t) => {
  const q = new WaitQueue<number>(4);
  for (let i = 0; i < 4; i++) q.push(() => {});
  q.bound = 2;
  t.equal(q.bound, 2);
  t.equal(q.size, 4);
  t.equal(q.push(() => {}), undefined);
  q.grant(0);
  q.grant(0);
  t.equal(q.push(() => {}), undefined, 'still at the new bound with 2 waiting');
  q.grant(0);
  t.ok(q.push(() => {}));
});

t.test('drainAll returns every live waiter in order and empties the queue', async (t) => {
  const q = new WaitQueue<number>(10);
  const tickets = [0, 1, 2, 3].map(() => q.push(() => {})!);
  q.cancel(tickets[1]!);
  const out = q.drainAll();
  t.same(out, [tickets[0], tickets[2], tickets[3]]);
  t.equal(q.size, 0);
  t.ok(out.every((x) => !x.live));
});

t.test('order survives compaction over many pushes and grants', async (t) => {
  // 3000 waiters with every third cancelled crosses the 1024-slot compaction threshold twice.
  const q = new WaitQueue<number>(10_000);
  const order: number[] = [];
  const tickets = [];
  for (let i = 0; i < 3000; i++) tickets.push(q.push(() => order.push(i))!);
  for (let i = 0; i < 3000; i += 3) q.cancel(tickets[i]!);
  // Interleave more arrivals with grants so compaction happens while the queue is non-empty.
  let next = 3000;
  while (q.size > 0) {
    q.grant(0);
    if (next < 3500) {
      const i = next++;
      q.push(() => order.push(i));
    }
  }
  const expected: number[] = [];
  for (let i = 0; i < 3500; i++) if (i >= 3000 || i % 3 !== 0) expected.push(i);
  t.same(order, expected);
});
