// There is no container engine here, so the Dockerfile is replayed instead of built: its steps run
// in temporary directories, one per stage (COPY from the repository or from an earlier stage, RUN
// `npm ci …` with --offline from the cache the project's own install filled, RUN `npx tsc -p …`
// with the stage's own TypeScript, ENV), then the image's command and both bins' --help (the
// compiled .js of package.json's bins) run on Node 24 (this process's own binary, like the node:24
// image). A RUN step the replay does not know fails the test, so the Dockerfile cannot grow
// steps that go untested.

import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';

const run = promisify(execFile);
const ROOT = new URL('../../../', import.meta.url).pathname;

interface Instruction {
  op: string;
  args: string;
}

/** Instructions in order, comments dropped and `\` continuations joined. */
function parseDockerfile(text: string): Instruction[] {
  return text
    .replaceAll(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [op = '', ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

interface Stage {
  name: string;
  from: string;
  dir: string;
  workdir: string;
  env: Record<string, string>;
  user?: string;
  entrypoint?: string[];
  cmd?: string[];
}

const dockerfile = parseDockerfile(await readFile(join(ROOT, 'Dockerfile'), 'utf8'));
const ignored = (await readFile(join(ROOT, '.dockerignore'), 'utf8'))
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
const scratch = await mkdtemp(join(tmpdir(), 'ikukantai-image-'));
t.teardown(() => rm(scratch, { recursive: true, force: true }));

/** npm on Node 24: the npm that runs this test when started through npm/npx, else the one on PATH. */
function npmCommand(args: string[]): [string, string[]] {
  const cli = process.env['npm_execpath'];
  return cli && cli.endsWith('.js') ? [process.execPath, [cli, ...args]] : ['npm', args];
}

const stages: Stage[] = [];
let skipReason: string | false = false;

t.test('Dockerfile shape', async (t) => {
  const froms = dockerfile.filter((i) => i.op === 'FROM').map((i) => i.args.split(/\s+/)[0]);
  t.ok(froms.length >= 2, 'multi-stage');
  t.equal(froms[0], 'node:24', 'installs on node:24');
  t.match(froms.at(-1), /^node:24(-slim)?$/, 'runs on Node 24');
  const copies = dockerfile.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'));
  for (const c of copies) {
    for (const src of c.args.split(/\s+/).slice(0, -1)) t.notOk(ignored.includes(src), `${src} is not excluded by .dockerignore`);
  }
  for (const heavy of ['node_modules', '.git', 'test', 'bench']) t.ok(ignored.includes(heavy), `.dockerignore keeps ${heavy} out`);
});

t.test('replay the build', async (t) => {
  for (const ins of dockerfile) {
    const stage = stages.at(-1);
    switch (ins.op) {
      case 'FROM': {
        const [from = '', , name] = ins.args.split(/\s+/);
        stages.push({ name: name ?? String(stages.length), from, dir: await mkdtemp(join(scratch, 'stage-')), workdir: '/', env: {} });
        break;
      }
      case 'WORKDIR':
        stage!.workdir = posix.resolve(stage!.workdir, ins.args);
        break;
      case 'ENV':
        for (const m of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=(\S+)/g)) stage!.env[m[1] as string] = m[2] as string;
        break;
      case 'USER':
        stage!.user = ins.args;
        break;
      case 'ENTRYPOINT':
        stage!.entrypoint = JSON.parse(ins.args) as string[];
        break;
      case 'CMD':
        stage!.cmd = JSON.parse(ins.args) as string[];
        break;
      case 'EXPOSE':
        break;
      case 'COPY': {
        const words = ins.args.split(/\s+/);
        const fromName = words[0]?.startsWith('--from=') ? words.shift()!.slice(7) : undefined;
        const fromStage = fromName === undefined ? undefined : stages.find((s) => s.name === fromName);
        if (fromName !== undefined && !fromStage) t.fail(`COPY --from=${fromName}: no such stage`);
        const dest = words.pop() ?? '.';
        const destIn = (src: string): string => {
          const abs = posix.resolve(stage!.workdir, dest);
          const rel = posix.relative(stage!.workdir, abs);
          t.notOk(rel.startsWith('..'), `COPY stays inside the WORKDIR (${dest})`);
          return dest.endsWith('/') ? join(stage!.dir, rel, posix.basename(src)) : join(stage!.dir, rel);
        };
        for (const src of words) {
          const from = fromStage ? join(fromStage.dir, posix.relative(fromStage.workdir, src)) : join(ROOT, src);
          await cp(from, destIn(src), { recursive: true });
        }
        break;
      }
      case 'RUN': {
        const tsc = /^npx tsc -p (\S+)$/.exec(ins.args);
        if (tsc) {
          // The stage's own compiler (installed by its npm ci), run on this Node 24.
          await run(process.execPath, [join(stage!.dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', tsc[1]!], {
            cwd: stage!.dir,
            timeout: 120_000,
          });
          break;
        }
        const m = /^npm ci\b(.*)$/.exec(ins.args);
        if (!m) {
          t.fail(`RUN step the replay does not know: ${ins.args}`);
          break;
        }
        // --offline: only the npm cache the first `npm ci` filled; no registry during tests.
        const args = ['ci', ...(m[1] ?? '').trim().split(/\s+/).filter(Boolean), '--offline'];
        const [cmd, argv] = npmCommand(args);
        try {
          await run(cmd, argv, { cwd: stage!.dir, timeout: 100_000, maxBuffer: 16 << 20 });
        } catch (err) {
          const e = err as { stderr?: string; message: string };
          if (/ENOTCACHED|ENOENT: no such file or directory, .*_cacache/.test(e.stderr ?? '')) {
            skipReason = 'the npm cache lacks a production dependency (run `npm ci` online once)';
            t.comment(`skipping the run checks: ${skipReason}`);
            return;
          }
          throw new Error(`npm ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim().split('\n').slice(-5).join(' | ')}`);
        }
        break;
      }
      default:
        t.fail(`Dockerfile instruction the replay does not know: ${ins.op}`);
    }
  }
  const final = stages.at(-1)!;
  t.match(final.user, /^[1-9]\d*(:[1-9]\d*)?$/, 'numeric non-root USER (runAsNonRoot can verify it)');
  t.same(final.entrypoint, ['node']);
  await t.resolves(stat(join(final.dir, 'node_modules', 'undici')), 'production dependencies installed');
  await t.rejects(stat(join(final.dir, 'node_modules', 'tap')), 'dev dependencies left out');
  await t.rejects(stat(join(final.dir, 'node_modules', 'typescript')), 'no compiler in the image');
});

t.test('the image runs both bins on Node 24', async (t) => {
  const final = stages.at(-1);
  if (skipReason || !final) {
    t.plan(0, `skipped: ${skipReason || 'the build replay failed'}`);
    return;
  }
  const env = { PATH: process.env['PATH'] ?? '', HOME: final.dir, ...final.env };
  for (const [name, source] of Object.entries(pkg.bin)) {
    const path = source.replace(/\.ts$/, '.js');
    const r = await run(process.execPath, [path, '--help'], { cwd: final.dir, env, timeout: 30_000 }).catch(
      (e: { code?: number; stdout?: string; stderr?: string }) => e,
    );
    if ('code' in r && r.code !== undefined) {
      t.fail(`${name} --help exited ${r.code}: ${(r.stderr ?? '').split('\n').find((l) => /Error/.test(l)) ?? r.stderr}`);
      continue;
    }
    t.match(r.stdout, /--/, `${name} --help lists its flags`);
    t.equal(r.stderr, '', `${name} --help writes nothing on stderr`);
  }
  const [entry, ...rest] = [...(final.entrypoint ?? []), ...(final.cmd ?? [])];
  t.equal(entry, 'node');
  const { stdout } = await run(process.execPath, rest, { cwd: final.dir, env, timeout: 30_000 });
  t.match(stdout, /--/, 'the default command runs');
});
