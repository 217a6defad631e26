import t from 'tap';
import { parseLabelSelector } from '../../../../../deploy/local/fake-apiserver/label-selector.ts';

t.test('selector table', async (t) => {
  const labels = { app: 'hello', tier: 'web', 'serving.knative.dev/revision': 'hello-00001' };
  const table: Array<[string, boolean]> = [
    ['', true],
    ['app=hello', true],
    ['app==hello', true],
    ['app=other', false],
    ['app!=other', true],
    ['missing!=x', true],
    ['app in (a, hello)', true],
    ['app notin (hello)', false],
    ['missing notin (x)', true],
    ['tier', true],
    ['!tier', false],
    ['!missing', true],
    ['serving.knative.dev/revision=hello-00001,tier in (web,api)', true],
    ['app=hello,tier=db', false],
    ['app=', false],
  ];
  for (const [sel, want] of table) t.equal(parseLabelSelector(sel)(labels), want, JSON.stringify(sel));
  t.equal(parseLabelSelector('app')(undefined), false, 'an object without labels');
  t.equal(parseLabelSelector('!app')(undefined), true);
});

t.test('bad selectors are 400s', async (t) => {
  for (const sel of ['app=a b', 'a in b', '=x', 'Bad_Prefix/x=y']) {
    t.throws(() => parseLabelSelector(sel), { reason: 'BadRequest', code: 400 }, sel);
  }
});
