import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { fileStamp, formatCell, formatTable, writeResults } from '../../../../bench/support/report.ts';

t.test('cells: fixed digits, a dash for missing values', async (t) => {
  t.equal(formatCell(1.23456, 2), '1.23');
  t.equal(formatCell(31999.6), '32000');
  t.equal(formatCell('x'), 'x');
  t.equal(formatCell(undefined), '—');
  t.equal(formatCell(NaN, 2), '—');
  t.equal(formatCell(Infinity), '—');
});

t.test('table: first column left, others right, aligned under the titles', async (t) => {
  const text = formatTable(
    [{ title: 'target' }, { title: 'req/s' }, { title: 'CPU', digits: 1 }],
    [
      ['direct', 31000, undefined],
      ['ours', 9500, 42.25],
    ],
  );
  t.equal(
    text,
    ['target  req/s   CPU', '------  -----  ----', 'direct  31000     —', 'ours     9500  42.3', ''].join('\n'),
  );
});

t.test('file stamp is sortable and filesystem-safe', async (t) => {
  t.equal(fileStamp(new Date('2026-11-26T12:30:05.123Z')), '20261126T123005Z');
});

t.test('results land twice: stamped and latest, same JSON', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-report-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = writeResults('overhead', { a: 1 }, new Date('2026-11-26T12:30:05Z'), join(dir, 'results'));
  t.equal(path, join(dir, 'results', 'overhead-20261126T123005Z.json'));
  t.same(readdirSync(join(dir, 'results')).sort(), ['overhead-20261126T123005Z.json', 'overhead-latest.json']);
  t.same(JSON.parse(readFileSync(path, 'utf8')), { a: 1 });
  t.equal(readFileSync(join(dir, 'results', 'overhead-latest.json'), 'utf8'), readFileSync(path, 'utf8'));
});
