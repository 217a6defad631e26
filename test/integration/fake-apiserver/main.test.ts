// The standalone fake API server (`main.ts`) as a user runs it: flags, the kubeconfig written
// where asked and its path printed, a client using it, a clean exit on SIGTERM, exit 2 on a bad flag.
// Also a custom resource registered at start-up through the programmatic API.

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import t from 'tap';
import { startFakeApiServer } from '../../../deploy/local/fake-apiserver/server.ts';

const MAIN = new URL('../../../deploy/local/fake-apiserver/main.ts', import.meta.url).pathname;

t.test('standalone: --port --token --kubeconfig-out, prints the path, exits 0 on SIGTERM', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fake-apiserver-main-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'kubeconfig');
  const child = spawn(process.execPath, [MAIN, '--port', '0', '--host', '127.0.64.1', '--token', 's3cret', '--kubeconfig-out', out], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  const lines = createInterface({ input: child.stdout! });
  let printed: string | undefined;
  for await (const line of lines) {
    if (!line.startsWith('{')) {
      printed = line;
      break;
    }
  }
  t.equal(printed, out, 'the kubeconfig path is printed');
  const kc = new KubeConfig();
  kc.loadFromFile(out);
  t.equal(kc.getCurrentUser()?.token, 's3cret');
  t.match(kc.getCurrentCluster()?.server, /^https:\/\/127\.0\.64\.1:\d+$/);
  const ns = await kc.makeApiClient(CoreV1Api).listNamespace();
  t.ok(ns.items.some((n) => n.metadata?.name === 'default'));
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  t.same(await exited, [0, null]);
});

t.test('standalone: a bad flag exits 2 with one line on stderr', async (t) => {
  const r = spawnSync(process.execPath, [MAIN, '--port', 'abc'], { encoding: 'utf8', timeout: 20_000 });
  t.equal(r.status, 2);
  t.equal(r.stderr.trim().split('\n').length, 1);
  t.match(r.stderr, /--port/);
});

t.test('a resource registered at start-up is served like any CRD', async (t) => {
  const api = await startFakeApiServer({
    resources: [{ group: 'example.com', version: 'v1alpha1', kind: 'Widget', plural: 'widgets', namespaced: false, status: true }],
  });
  t.teardown(() => api.close());
  const kc = new KubeConfig();
  kc.loadFromFile(api.kubeconfigPath);
  const co = kc.makeApiClient(CustomObjectsApi);
  const ref = { group: 'example.com', version: 'v1alpha1', plural: 'widgets' };
  await co.createClusterCustomObject({ ...ref, body: { apiVersion: 'example.com/v1alpha1', kind: 'Widget', metadata: { name: 'w1' }, spec: { size: 1 } } });
  const list = await co.listClusterCustomObject(ref);
  t.same(list.items.map((o: { metadata: { name: string } }) => o.metadata.name), ['w1']);
  t.equal(list.kind, 'WidgetList');
  const got = await co.getClusterCustomObject({ ...ref, name: 'w1' });
  t.equal(got.metadata.namespace, undefined, 'cluster-scoped objects have no namespace');
});
