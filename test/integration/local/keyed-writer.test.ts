// KeyedWriter: one write at a time per key, queued duplicates collapse into one run that sees the
// latest state, failures retry with backoff, close() releases every waiter.
import t from 'tap';
import { KeyedWriter } from '../../../deploy/local/keyed-writer.ts';
import { memoryLogger } from '../../../lib/log.ts';

t.test('writes to one key never overlap and collapse while one runs', async (t) => {
  const w = new KeyedWriter(memoryLogger());
  let state = 0;
  const written: number[] = [];
  let running = 0;
  let maxRunning = 0;
  const write = async (): Promise<void> => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    const seen = state;
    await new Promise((r) => setTimeout(r, 20));
    written.push(seen);
    running--;
  };
  state = 1;
  const first = w.schedule('k', write);
  const later: Array<Promise<void>> = [];
  for (state = 2; state <= 5; state++) later.push(w.schedule('k', write));
  state = 5;
  await Promise.all([first, ...later]);
  t.equal(maxRunning, 1, 'never two writes of one key at once');
  t.same(written, [1, 5], 'the four queued schedules ran once, with the latest state');
  await w.close();
});

t.test('a failed write is retried until it succeeds', async (t) => {
  const log = memoryLogger();
  const w = new KeyedWriter(log);
  let attempts = 0;
  await w.schedule('k', async () => {
    if (++attempts < 3) throw new Error('API down');
  });
  t.equal(attempts, 3);
  t.equal(log.lines.filter((l) => l.event === 'agent_write_failed').length, 2, 'each failure logged');
  await w.close();
});

t.test('close() stops retries and releases waiters', async (t) => {
  const w = new KeyedWriter(memoryLogger());
  let attempts = 0;
  const pending = w.schedule('k', async () => {
    attempts++;
    throw new Error('API down for good');
  });
  while (attempts === 0) await new Promise((r) => setTimeout(r, 5));
  await w.close();
  await pending;
  t.equal(attempts, 1, 'no retry after close');
  await w.schedule('k', async () => {
    t.fail('no write after close');
  });
});
