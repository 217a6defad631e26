import t from 'tap';
import { jsonPatch } from '../../../../../deploy/local/fake-apiserver/json-patch.ts';

t.test('operations (RFC 6902 §4)', async (t) => {
  const doc = { spec: { repurika: { node1: 1 }, list: ['a', 'c'] }, 'we/ird~key': 1 };
  t.same((jsonPatch(doc, [{ op: 'add', path: '/spec/repurika/node2', value: 2 }]) as typeof doc).spec, { repurika: { node1: 1, node2: 2 }, list: ['a', 'c'] });
  t.same((jsonPatch(doc, [{ op: 'add', path: '/spec/list/1', value: 'b' }]) as typeof doc).spec.list, ['a', 'b', 'c']);
  t.same((jsonPatch(doc, [{ op: 'add', path: '/spec/list/-', value: 'd' }]) as typeof doc).spec.list, ['a', 'c', 'd']);
  t.same((jsonPatch(doc, [{ op: 'remove', path: '/spec/list/0' }]) as typeof doc).spec.list, ['c']);
  t.same((jsonPatch(doc, [{ op: 'replace', path: '/spec/repurika/node1', value: 5 }]) as typeof doc).spec.repurika, { node1: 5 });
  t.same(jsonPatch(doc, [{ op: 'move', from: '/spec/repurika', path: '/moved' }]), { spec: { list: ['a', 'c'] }, 'we/ird~key': 1, moved: { node1: 1 } });
  t.same((jsonPatch(doc, [{ op: 'copy', from: '/spec/list/0', path: '/spec/list/-' }]) as typeof doc).spec.list, ['a', 'c', 'a']);
  t.same(jsonPatch(doc, [{ op: 'remove', path: '/we~1ird~0key' }]), { spec: doc.spec }, 'RFC 6901 escapes');
  t.same(jsonPatch(doc, [{ op: 'test', path: '/spec/repurika', value: { node1: 1 } }]), doc);
  t.same(doc.spec.list, ['a', 'c'], 'the input is not mutated');
});

t.test('failures reject the whole patch as 422', async (t) => {
  const doc = { a: { b: 1 }, l: [1] };
  const bad: unknown[] = [
    { op: 'test', path: '/a/b', value: 2 },
    { op: 'remove', path: '/nope' },
    { op: 'replace', path: '/x/y', value: 1 },
    { op: 'add', path: '/l/5', value: 1 },
    { op: 'add', path: 'no-slash', value: 1 },
    { op: 'frobnicate', path: '/a' },
  ];
  for (const op of bad) t.throws(() => jsonPatch(doc, [op]), { reason: 'Invalid', code: 422 }, JSON.stringify(op));
  t.throws(() => jsonPatch(doc, { op: 'add' }), { code: 422 }, 'not an array');
});
