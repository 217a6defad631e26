import t from 'tap';
import { mergePatch, type Json } from '../../../../../deploy/local/fake-apiserver/merge-patch.ts';

// RFC 7386 Appendix A, the examples every implementation must reproduce.
const rfc: Array<[Json, Json, Json]> = [
  [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
  [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
  [{ a: 'b' }, { a: null }, {}],
  [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
  [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
  [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
  [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
  [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
  [['a', 'b'], ['c', 'd'], ['c', 'd']],
  [{ a: 'b' }, ['c'], ['c']],
  [{ a: 'foo' }, null, null],
  [{ a: 'foo' }, 'bar', 'bar'],
  [{ e: null }, { a: 1 }, { e: null, a: 1 }],
  [[1, 2], { a: 'b', c: null }, { a: 'b' }],
  [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
];

t.test('RFC 7386 appendix A', async (t) => {
  for (const [target, patch, want] of rfc) t.same(mergePatch(target, patch), want, `${JSON.stringify(target)} + ${JSON.stringify(patch)}`);
});

t.test('the target is not mutated', async (t) => {
  const target: Json = { spec: { repurika: { node1: 1 } } };
  mergePatch(target, { spec: { repurika: { node1: null, node2: 2 } } });
  t.same(target, { spec: { repurika: { node1: 1 } } });
});
