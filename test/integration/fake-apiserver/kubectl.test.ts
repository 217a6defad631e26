// kubectl against the fake API server through the kubeconfig it writes: discovery (short names,
// the Seika CRD), get, merge patches of spec and of the status subresource, label selectors,
// create and apply from a file.
// Skipped, visibly, where kubectl is not installed.

import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { startFakeApiServer } from '../../../deploy/local/fake-apiserver/server.ts';

const run = promisify(execFile);
const hasKubectl = spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status === 0;

t.test('kubectl get and patch', { skip: hasKubectl ? false : 'kubectl is not installed on this machine' }, async (t) => {
  const api = await startFakeApiServer({ host: '127.0.0.1', port: 0 });
  const cacheDir = mkdtempSync(join(tmpdir(), 'kubectl-cache-'));
  t.teardown(async () => {
    await api.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });
  const kubectl = async (...args: string[]): Promise<string> =>
    (await run('kubectl', ['--kubeconfig', api.kubeconfigPath, '--cache-dir', cacheDir, ...args], { timeout: 20_000 })).stdout;

  api.apply({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'hello-00001-private-abcde', namespace: 'default', labels: { 'serving.knative.dev/revision': 'hello-00001' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: ['127.0.11.1'], nodeName: 'node1' }],
    ports: [{ name: 'http', port: 8080 }],
  });
  api.apply({ apiVersion: 'batch.bonavadeur.io/v1', kind: 'Seika', metadata: { name: 'hello', namespace: 'default' }, spec: { repurika: { node1: 1 } } });

  t.match(await kubectl('get', 'endpointslices', '-A'), /hello-00001-private-abcde/);
  t.equal(await kubectl('get', 'endpointslices', '-l', 'serving.knative.dev/revision=hello-00001', '-o', 'name'), 'endpointslice.discovery.k8s.io/hello-00001-private-abcde\n');
  t.equal(await kubectl('get', 'endpointslices', '-l', 'serving.knative.dev/revision=other', '-o', 'name'), '');
  t.match(await kubectl('get', 'ns'), /kube-system/);

  t.match(await kubectl('patch', 'seika', 'hello', '--type', 'merge', '-p', '{"spec":{"repurika":{"node2":2}}}'), /seika.batch.bonavadeur.io\/hello patched/);
  t.same((api.get({ apiVersion: 'batch.bonavadeur.io/v1', kind: 'Seika', namespace: 'default', name: 'hello' })?.spec as { repurika: unknown }).repurika, {
    node1: 1,
    node2: 2,
  });
  await kubectl('patch', 'seika', 'hello', '--subresource', 'status', '--type', 'merge', '-p', '{"status":{"ready":"0-0/1-2"}}');
  t.equal(await kubectl('get', 'seika', 'hello', '-o', 'jsonpath={.status.ready} {.spec.repurika.node2}'), '0-0/1-2 2');

  // create/apply from a file: kubectl consults /openapi/v3 and leaves validation to the server.
  const file = join(cacheDir, 'seika.yaml');
  writeFileSync(file, 'apiVersion: batch.bonavadeur.io/v1\nkind: Seika\nmetadata: {name: world, namespace: default}\nspec: {repurika: {node1: 1}}\n');
  t.match(await kubectl('create', '-f', file), /seika.batch.bonavadeur.io\/world created/);
  writeFileSync(file, 'apiVersion: batch.bonavadeur.io/v1\nkind: Seika\nmetadata: {name: world, namespace: default}\nspec: {repurika: {node1: 3}}\n');
  await kubectl('apply', '-f', file);
  t.equal(await kubectl('get', 'seika', 'world', '-o', 'jsonpath={.spec.repurika.node1}'), '3', 'kubectl apply (a JSON merge patch for custom resources)');

  const strategic = await kubectl('patch', 'seika', 'hello', '-p', '{"spec":{}}').catch((e: { stderr: string }) => e.stderr);
  t.match(strategic, /strategic-merge-patch\+json is not supported/, 'custom resources refuse strategic merge, as in Kubernetes');
});
