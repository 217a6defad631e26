import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { memoryLogger } from '../../../lib/log.ts';
import type { Snapshot } from '../../../lib/model.ts';
import { StaticFileError } from '../../../proxy/endpoints/static-file.ts';
import { createStaticSource } from '../../../proxy/endpoints/static-source.ts';
import { until } from '../../support/until.ts';

const fixture = readFileSync(new URL('../../fixtures/endpoints-example.yaml', import.meta.url), 'utf8');

/** A file with one revision per name, all on node1. */
function fileWith(...names: string[]): string {
  return JSON.stringify({
    revisions: names.map((name, i) => ({
      namespace: 'default',
      name,
      endpoints: [{ address: '127.0.11.1', port: 8080 + i, node: 'node1' }],
    })),
  });
}

function names(s: Snapshot | undefined): string[] {
  return s ? s.revisions.map((r) => r.name) : [];
}

async function setup(t: { teardown(fn: () => unknown): void }, text: string) {
  const dir = mkdtempSync(join(tmpdir(), 'ikukantai-static-'));
  const file = join(dir, 'endpoints.json');
  writeFileSync(file, text);
  const logger = memoryLogger('node1');
  const source = createStaticSource({ file, nodeName: 'node1', logger, pollMs: 100 });
  const snapshots: Snapshot[] = [];
  t.teardown(async () => {
    await source.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await source.start((s) => snapshots.push(s));
  const events = (event: string) => logger.lines.filter((l) => l.event === event);
  return { dir, file, source, snapshots, logger, events };
}

t.test('start loads the file once and is synced', async (t) => {
  const { source, snapshots, events } = await setup(t, fixture);
  t.equal(snapshots.length, 1);
  t.ok(source.synced());
  t.equal(source.current(), snapshots[0]);
  t.same(names(source.current()), ['hello-00001']);
  t.match(events('endpoints_file_loaded'), [{ level: 'info', revisions: 1, node: 'node1' }]);
  t.same(events('endpoints_file_warning'), []);
});

t.test('a bad or missing start-up file rejects start() with StaticFileError', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ikukantai-static-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'revisions:\n  - { namespace: default, name: x, endpoints: [{ address: 127.0.0.1, port: 0, node: n }] }\n');
  const logger = memoryLogger();
  const a = createStaticSource({ file: bad, nodeName: 'node1', logger });
  await t.rejects(a.start(() => t.fail('no snapshot')), {
    code: 'bad_endpoints_file',
    path: 'revisions[0].endpoints[0].port',
    message: `${bad}: revisions[0].endpoints[0].port: must be 1-65535, got 0`,
  });
  t.notOk(a.synced());
  t.throws(() => a.current());
  await a.close();

  const missing = createStaticSource({ file: join(dir, 'nope.yaml'), nodeName: 'node1', logger });
  const err = await missing.start(() => t.fail('no snapshot')).catch((e: unknown) => e);
  t.ok(err instanceof StaticFileError);
  t.match((err as Error).message, /nope\.yaml: cannot read: ENOENT$/);
  await missing.close();
  t.throws(() => createStaticSource({ file: bad, nodeName: 'node1', logger, pollMs: 501 }), RangeError);
});

t.test('an edit in place applies', async (t) => {
  const { file, source, snapshots, events } = await setup(t, fileWith('a-1'));
  writeFileSync(file, fileWith('a-1', 'b-1'));
  await until('the edit', () => snapshots.length === 2);
  t.same(names(source.current()), ['a-1', 'b-1']);
  t.equal(events('endpoints_file_loaded').length, 2);
  t.match(events('endpoints_file_loaded')[1], { revisions: 2 });
});

t.test('an atomic rename over the file applies', async (t) => {
  const { dir, file, source, snapshots } = await setup(t, fileWith('a-1'));
  const tmp = join(dir, '.endpoints.json.tmp');
  writeFileSync(tmp, fileWith('c-1'));
  renameSync(tmp, file);
  await until('the rename', () => snapshots.length === 2);
  t.same(names(source.current()), ['c-1']);
});

t.test('delete then recreate: the gap keeps the last good view and logs, the new file applies', async (t) => {
  const { file, source, snapshots, events } = await setup(t, fileWith('a-1'));
  unlinkSync(file);
  await until('the missing-file log', () => events('endpoints_file_rejected').length === 1);
  t.match(events('endpoints_file_rejected')[0], { level: 'warn', code: 'bad_endpoints_file', msg: /cannot read: ENOENT; keeping the last good file$/ });
  t.same(names(source.current()), ['a-1']);
  t.ok(source.synced());
  writeFileSync(file, fileWith('d-1'));
  await until('the recreated file', () => snapshots.length === 2);
  t.same(names(source.current()), ['d-1']);

  // Quick delete+recreate, as some editors save: no gap needs to be seen for the edit to apply.
  unlinkSync(file);
  writeFileSync(file, fileWith('e-1'));
  await until('the quick recreate', () => names(source.current())[0] === 'e-1');
});

t.test('a bad edit keeps the last good snapshot and logs once; a good edit recovers', async (t) => {
  const { file, source, snapshots, events } = await setup(t, fileWith('a-1'));
  const good = source.current();
  const dup = JSON.stringify({ revisions: [{ namespace: 'default', name: 'a-1' }, { namespace: 'default', name: 'a-1' }] });
  writeFileSync(file, dup);
  await until('the rejection', () => events('endpoints_file_rejected').length === 1);
  t.match(events('endpoints_file_rejected')[0], {
    level: 'warn',
    code: 'bad_endpoints_file',
    msg: `${file}: revisions[1]: duplicate revision default/a-1 (also revisions[0]); keeping the last good file`,
  });
  t.equal(source.current(), good, 'last good kept');
  t.equal(snapshots.length, 1, 'no snapshot for a bad file');

  writeFileSync(file, 'revisions: [');
  await until('the second rejection', () => events('endpoints_file_rejected').length === 2);
  t.match(events('endpoints_file_rejected')[1], { msg: /endpoints\.json: invalid JSON: / });

  writeFileSync(file, fileWith('a-1', 'f-1'));
  await until('the recovery', () => snapshots.length === 2);
  t.same(names(source.current()), ['a-1', 'f-1']);
  t.equal(events('endpoints_file_rejected').length, 2);
});

t.test('unchanged content gives no new snapshot; warnings are logged per load', async (t) => {
  const { file, source, snapshots, events } = await setup(t, fileWith('a-1'));
  const later = new Date(Date.now() + 5_000);
  utimesSync(file, later, later);
  writeFileSync(file, fileWith('a-1'));
  // A real edit after the touch and the same-content rewrite: once it shows, both were seen.
  const withUnknown = JSON.parse(fileWith('g-1'));
  withUnknown.revisions[0].labels = {};
  writeFileSync(file, JSON.stringify(withUnknown));
  await until('the edit', () => names(source.current())[0] === 'g-1');
  t.equal(snapshots.length, 2, 'one snapshot per content change');
  t.match(events('endpoints_file_warning'), [{ level: 'warn', msg: 'revisions[0].labels: unknown key, ignored' }]);
});

t.test('a bad edit put back as it was: logged as good again, no new snapshot', async (t) => {
  const { file, source, snapshots, events } = await setup(t, fileWith('a-1'));
  writeFileSync(file, '{');
  await until('the rejection', () => events('endpoints_file_rejected').length === 1);
  writeFileSync(file, fileWith('a-1'));
  await until('the revert', () => events('endpoints_file_loaded').length === 2);
  t.match(events('endpoints_file_loaded')[1], { level: 'info', msg: /endpoints\.json \(same as the last good file\)$/, revisions: 1 });
  t.equal(snapshots.length, 1);
  t.same(names(source.current()), ['a-1']);
  writeFileSync(file, '{');
  await until('the same bad edit to be logged again', () => events('endpoints_file_rejected').length === 2);
});

t.test('changes the directory watch cannot see are found by the stat poll', async (t) => {
  // Like a Kubernetes ConfigMap volume: the watched name is a symlink into another directory
  // (`..data/`), so an edit of the target raises no event in the watched directory.
  const root = mkdtempSync(join(tmpdir(), 'ikukantai-static-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'data'));
  mkdirSync(join(root, 'mount'));
  const target = join(root, 'data', 'endpoints.json');
  writeFileSync(target, fileWith('a-1'));
  const file = join(root, 'mount', 'endpoints.json');
  symlinkSync(target, file);
  const source = createStaticSource({ file, nodeName: 'node1', logger: memoryLogger(), pollMs: 50 });
  t.teardown(() => source.close());
  const snapshots: Snapshot[] = [];
  await source.start((s) => snapshots.push(s));
  writeFileSync(target, fileWith('a-1', 'i-1'));
  await until('the poll to see the edit', () => snapshots.length === 2);
  t.same(names(source.current()), ['a-1', 'i-1']);
});

t.test('a consumer that throws is logged and the source keeps following', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ikukantai-static-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'endpoints.json');
  writeFileSync(file, fileWith('a-1'));
  const logger = memoryLogger();
  const source = createStaticSource({ file, nodeName: 'node1', logger, pollMs: 50 });
  t.teardown(() => source.close());
  let calls = 0;
  await source.start(() => {
    if (++calls === 2) throw new Error('consumer bug');
  });
  writeFileSync(file, fileWith('j-1'));
  await until('the failure log', () => logger.lines.some((l) => l.event === 'endpoints_file_apply_failed'));
  t.match(logger.lines.find((l) => l.event === 'endpoints_file_apply_failed'), { level: 'error', msg: 'consumer bug' });
  writeFileSync(file, fileWith('k-1'));
  await until('the next edit', () => calls === 3);
  t.same(names(source.current()), ['k-1']);
});

t.test('close stops following the file', async (t) => {
  const { file, source, snapshots } = await setup(t, fileWith('a-1'));
  await source.close();
  writeFileSync(file, fileWith('h-1'));
  await source.close();
  t.equal(snapshots.length, 1);
  t.same(names(source.current()), ['a-1'], 'the last view stays readable');
  await t.rejects(source.start(() => {}), /start\(\) called twice or after close\(\)/);
});
