import t from 'tap';
import { formatLoad, parseLoad } from '../../../../proxy/balance/load-header.ts';

t.test('formats and parses back', async (t) => {
  t.equal(formatLoad({ inflight: 3, queued: 0, cc: 1 }), 'inflight=3;queued=0;cc=1');
  t.same(parseLoad('inflight=3;queued=0;cc=1'), { inflight: 3, queued: 0, cc: 1 });
  t.same(parseLoad('cc=0; queued=7 ;INFLIGHT=12'), { inflight: 12, queued: 7, cc: 0 }, 'order, case and spaces');
});

t.test('garbage is undefined, never a throw', async (t) => {
  const bad = [
    undefined,
    '',
    'inflight=3',
    'inflight=3;queued=0',
    'inflight=-1;queued=0;cc=0',
    'inflight=1.5;queued=0;cc=0',
    'inflight=1e3;queued=0;cc=0',
    'inflight=;queued=0;cc=0',
    'inflight=1;queued=0;cc=0;extra=1',
    'inflight=1;inflight=2;queued=0;cc=0',
    'inflight=99999999;queued=0;cc=0',
    'inflight 1;queued=0;cc=0',
    'inflight=1;queued=0;cc=0;',
    'x'.repeat(10_000),
  ];
  for (const v of bad) t.equal(parseLoad(v), undefined, String(v).slice(0, 40));
});
