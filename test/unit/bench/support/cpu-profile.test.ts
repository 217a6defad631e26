import { pathToFileURL } from 'node:url';
import t from 'tap';
import { areaOf, formatProfileSummary, summarizeProfile, type CpuProfile } from '../../../../bench/support/cpu-profile.ts';

const root = '/repo';
const ours = pathToFileURL('/repo/proxy/forward/forwarder.ts').href;
const undici = pathToFileURL('/repo/node_modules/undici/lib/dispatcher/client-h1.js').href;
const scoped = pathToFileURL('/repo/node_modules/@kubernetes/client-node/dist/index.js').href;
const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber, columnNumber: 0 });

t.test('areas: ours by path, packages by name, Node core by module, pseudo frames as named', async (t) => {
  t.equal(areaOf(frame('forward', ours), root), 'proxy/forward/forwarder.ts');
  t.equal(areaOf(frame('execute', undici), root), 'undici');
  t.equal(areaOf(frame('x', scoped), root), '@kubernetes/client-node');
  t.equal(areaOf(frame('write', 'node:internal/streams/writable'), root), 'node:streams');
  t.equal(areaOf(frame('emit', 'node:events'), root), 'node:events');
  t.equal(areaOf(frame('(garbage collector)', ''), root), '(garbage collector)');
  t.equal(areaOf(frame('writev', ''), root), '(native)');
  t.equal(areaOf(frame('execute', 'wasm://wasm/00ad0bc6'), root), 'wasm (undici llhttp)');
});

t.test('self time follows the sample timeline; idle is kept out of the shares', async (t) => {
  // Tree: root(1) → forward(2) → execute(3); plus idle(4) and GC(5).
  const profile: CpuProfile = {
    startTime: 0,
    endTime: 10_000,
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 4, 5] },
      { id: 2, callFrame: frame('forward', ours, 41), children: [3] },
      { id: 3, callFrame: frame('execute', undici, 99) },
      { id: 4, callFrame: frame('(idle)', '') },
      { id: 5, callFrame: frame('(garbage collector)', '') },
    ],
    // Sample i lasts timeDeltas[i + 1] µs: forward 1000, execute 3000 + 2000, idle 4000, GC 1000, last 0.
    samples: [2, 3, 3, 4, 5, 3],
    timeDeltas: [0, 1000, 3000, 2000, 4000, 1000],
  };
  const s = summarizeProfile(profile, { root });
  t.equal(s.idleMs, 4);
  t.equal(s.busyMs, 7);
  t.same(
    s.functions.map((f) => [f.name, f.selfMs]),
    [
      ['execute undici/lib/dispatcher/client-h1.js:100', 5],
      ['forward proxy/forward/forwarder.ts:42', 1],
      ['(garbage collector)', 1],
    ],
  );
  t.same(
    s.areas.map((a) => [a.area, Math.round(a.share * 1000)]),
    [
      ['undici', 714],
      ['proxy/forward/forwarder.ts', 143],
      ['(garbage collector)', 143],
    ],
  );
  const text = formatProfileSummary(s);
  t.match(text, /busy 7 ms, idle 4 ms/);
  t.match(text, /71\.4 %\s+5\.0 ms {2}execute undici\/lib\/dispatcher\/client-h1\.js:100/);
});

t.test('top N cuts the function list, not the areas', async (t) => {
  const nodes = Array.from({ length: 20 }, (_, i) => ({ id: i + 1, callFrame: frame(`f${i}`, ours, i) }));
  const profile: CpuProfile = {
    startTime: 0,
    endTime: 0,
    nodes,
    samples: nodes.map((n) => n.id),
    timeDeltas: nodes.map(() => 100),
  };
  const s = summarizeProfile(profile, { root, top: 5 });
  t.equal(s.functions.length, 5);
  t.equal(s.areas.length, 1);
});

t.test('a window keeps start-up samples out', async (t) => {
  const profile: CpuProfile = {
    startTime: 0,
    endTime: 0,
    nodes: [
      { id: 1, callFrame: frame('compile', 'node:internal/modules/cjs/loader') },
      { id: 2, callFrame: frame('forward', ours) },
    ],
    // Samples at 100, 200 (start-up), then 1100, 1200, 1300 µs (load).
    samples: [1, 1, 2, 2, 2],
    timeDeltas: [100, 100, 900, 100, 100],
  };
  const all = summarizeProfile(profile, { root });
  t.same(all.areas.map((a) => a.area), ['node:modules', 'proxy/forward/forwarder.ts']);
  const load = summarizeProfile(profile, { root, window: { fromUs: 1000, toUs: 2000 } });
  t.same(load.functions.map((f) => [f.name, f.selfMs]), [['forward proxy/forward/forwarder.ts:1', 0.2]]);
});
