// Renders deploy/kubernetes with the real `kubectl kustomize` and checks the objects against the
// contracts they carry: the activator Service keeps traffic on the node (internalTrafficPolicy:
// Local), RBAC grants no verb beyond the table below, every workload runs non-root on a read-only
// root filesystem, and the wiring between objects (Secret names, Service names, ports, flags) holds.
// No cluster is involved; what a live cluster would add is listed in deploy/README.md.

import { PROXY_NODE_FLAGS } from '../../../proxy/node-flags.ts';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { parseArgs, type FlagSpec } from '../../../lib/cli.ts';
import { PROXY_FLAGS } from '../../../proxy/config.ts';
import { CONTROLLER_FLAGS } from '../../../controller/config.ts';

const run = promisify(execFile);
const SOURCE = new URL('../../../deploy/kubernetes/', import.meta.url);

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } } & Record<string, any>;

// The whole of what each identity may do (group/resource → verbs). Anything rendered beyond this
// fails the test; narrowing it is always fine.
const ALLOWED: Record<string, Record<string, string[]>> = {
  'ClusterRole/ikukantai-proxy': {
    'discovery.k8s.io/endpointslices': ['get', 'list', 'watch'],
    'serving.knative.dev/revisions': ['get', 'list', 'watch'],
  },
  'ClusterRole/ikukantai-controller': {
    'serving.knative.dev/revisions': ['get', 'list', 'watch'],
    'batch.bonavadeur.io/seikas': ['get', 'list', 'watch', 'patch'],
    '/nodes': ['get', 'list', 'watch'],
  },
  'Role/ikukantai-controller-leader-election': {
    'coordination.k8s.io/leases': ['get', 'create', 'update'],
  },
};

async function kubectlAvailable(): Promise<boolean> {
  try {
    await run('kubectl', ['version', '--client'], { timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

async function copyOfManifests(withToken: boolean): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ikukantai-kustomize-'));
  await cp(SOURCE, dir, { recursive: true });
  await rm(join(dir, 'stats-token'), { force: true });
  if (withToken) await writeFile(join(dir, 'stats-token'), randomBytes(32).toString('hex') + '\n');
  return dir;
}

if (!(await kubectlAvailable())) {
  t.test('deploy/kubernetes', { skip: 'kubectl is not installed: cannot render (CI images ship kubectl 1.32)' }, () => {});
} else {
  const dir = await copyOfManifests(true);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { stdout } = await run('kubectl', ['kustomize', dir], { timeout: 60_000, maxBuffer: 16 << 20 });
  const objects = parseAllDocuments(stdout).map((d) => d.toJS() as Obj).filter(Boolean);
  const get = (kind: string, name: string, namespace?: string): Obj => {
    const o = objects.find((x) => x.kind === kind && x.metadata.name === name && (namespace === undefined || x.metadata.namespace === namespace));
    if (!o) throw new Error(`no ${kind} ${namespace ?? '*'}/${name} rendered`);
    return o;
  };
  const selects = (selector: Record<string, string>, labels: Record<string, string> | undefined): boolean =>
    Object.entries(selector).every(([k, v]) => labels?.[k] === v);

  const proxy = get('DaemonSet', 'ikukantai-proxy', 'knative-serving');
  const controller = get('Deployment', 'ikukantai-controller', 'ikukantai-system');

  t.test('activator Service keeps traffic on the node and selects the proxies', async (t) => {
    const svc = get('Service', 'activator-service', 'knative-serving');
    t.equal(svc.spec.internalTrafficPolicy, 'Local');
    t.ok(selects(svc.spec.selector, proxy.spec.template.metadata.labels), 'selector matches the DaemonSet pods');
    t.same(svc.spec.selector, { app: 'activator' }, "Knative's own selector, unchanged");
    const ports = new Map<string, number>(svc.spec.ports.map((p: { name: string; targetPort: number }) => [p.name, p.targetPort]));
    t.equal(ports.get('http'), 8012);
    t.equal(ports.get('http2'), 8013);
  });

  t.test('proxy DaemonSet: ports, node name, probes, resources, flags', async (t) => {
    t.ok(selects(proxy.spec.selector.matchLabels, proxy.spec.template.metadata.labels));
    const [c] = proxy.spec.template.spec.containers;
    t.same(
      c.ports.map((p: { containerPort: number }) => p.containerPort).sort(),
      [8012, 8013, 8014, 9090],
    );
    const nodeEnv = c.env.find((e: { name: string }) => e.name === 'IKUKANTAI_NODE_NAME');
    t.equal(nodeEnv?.valueFrom?.fieldRef?.fieldPath, 'spec.nodeName', 'node name from the downward API');
    t.equal(c.readinessProbe.httpGet.path, '/readyz');
    t.equal(c.livenessProbe.httpGet.path, '/healthz');
    t.equal(c.readinessProbe.httpGet.port, 'metrics', 'probes hit the admin port, never 8012');
    t.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory, 'resources set');
    t.same(c.command, ['node', ...PROXY_NODE_FLAGS, 'proxy/bin.js'], 'the compiled bin, with the V8 flags of proxy/node-flags.ts');
    t.equal(proxy.spec.template.spec.serviceAccountName, 'ikukantai-proxy');

    const flags = new Map<string, string>(c.args.map((a: string) => a.replace(/^--/, '').split(/=(.*)/s).slice(0, 2) as [string, string]));
    const ctl = new URL(flags.get('controller') ?? '');
    const ctlSvc = get('Service', ctl.hostname.split('.')[0] ?? '', ctl.hostname.split('.')[1]);
    t.ok(
      ctlSvc.spec.ports.some((p: { port: number; name: string }) => p.port === Number(ctl.port) && p.name === 'stats'),
      '--controller reaches the controller Service stats port',
    );
    t.ok(selects(ctlSvc.spec.selector, controller.spec.template.metadata.labels), 'which selects the controller pods');
    const [peerNs, peerName] = (flags.get('peer-service') ?? '').split('/');
    const peer = get('Service', peerName ?? '', peerNs);
    t.equal(peer.metadata.namespace, proxy.metadata.namespace, 'peer Service in the DaemonSet namespace (selectors are namespaced)');
    t.ok(selects(peer.spec.selector, proxy.spec.template.metadata.labels), 'peer Service selects the proxies');
    t.ok(peer.spec.ports.some((p: { name: string; port: number }) => p.name === 'peer' && p.port === 8014), 'port named peer');
  });

  t.test('controller Deployment: 2 replicas, Lease flags, PDB', async (t) => {
    t.equal(controller.spec.replicas, 2);
    const [c] = controller.spec.template.spec.containers;
    t.same(c.command, ['node', 'controller/bin.js'], 'the compiled bin');
    t.ok(c.args.includes('--lease-namespace=ikukantai-system'), 'Lease in its own namespace');
    const adv = c.env.find((e: { name: string }) => e.name === 'IKUKANTAI_ADVERTISE_URL');
    t.match(adv?.value, /^http:\/\/\$\(POD_IP\):8080$/, 'advertises the pod IP as the Lease holder URL');
    const pdb = get('PodDisruptionBudget', 'ikukantai-controller', 'ikukantai-system');
    t.equal(pdb.spec.minAvailable, 1);
    t.ok(selects(pdb.spec.selector.matchLabels, controller.spec.template.metadata.labels), 'PDB selects the controller');
  });

  t.test('every workload: non-root, read-only root, no privilege, token mounted', async (t) => {
    for (const w of [proxy, controller]) {
      const pod = w.spec.template.spec;
      t.equal(pod.securityContext.runAsNonRoot, true, `${w.kind}: runAsNonRoot`);
      t.ok(pod.securityContext.runAsUser > 0, `${w.kind}: numeric non-zero uid`);
      for (const c of pod.containers) {
        const sc = c.securityContext;
        t.equal(sc.readOnlyRootFilesystem, true, `${w.kind}/${c.name}: read-only root filesystem`);
        t.equal(sc.allowPrivilegeEscalation, false, `${w.kind}/${c.name}: no privilege escalation`);
        t.same(sc.capabilities.drop, ['ALL'], `${w.kind}/${c.name}: drops all capabilities`);
        t.notOk(sc.privileged, `${w.kind}/${c.name}: not privileged`);
        const tokenFlag = (c.args as string[]).find((a) => a.startsWith('--stats-token-file='))?.split('=')[1] ?? '';
        const mount = c.volumeMounts.find((m: { mountPath: string }) => tokenFlag.startsWith(m.mountPath + '/'));
        t.ok(mount, `${w.kind}: token file is on a mounted volume`);
        const vol = pod.volumes.find((v: { name: string }) => v.name === mount?.name);
        const secret = get('Secret', vol?.secret?.secretName ?? '', w.metadata.namespace);
        t.match(secret.metadata.name, /^ikukantai-stats-token-[a-z0-9]+$/, `${w.kind}: generated Secret with a content hash`);
        t.ok(secret.data?.[tokenFlag.slice(mount.mountPath.length + 1)], `${w.kind}: Secret has the key the flag reads`);
      }
      t.notOk(pod.hostNetwork, `${w.kind}: no host network`);
    }
    const tokens = objects.filter((o) => o.kind === 'Secret').map((o) => o.data.token);
    t.equal(tokens.length, 2, 'one Secret per namespace');
    t.equal(tokens[0], tokens[1], 'same token for proxies and controller');
  });

  t.test("containers' flags and env parse with the bins' own flag tables", async (t) => {
    // What the kubelet would pass: downward-API values stand in as sample values, and $(VAR)
    // references expand from earlier variables, as Kubernetes does.
    const env = (c: { env?: Array<{ name: string; value?: string; valueFrom?: unknown }> }): Record<string, string> => {
      const out: Record<string, string> = {};
      for (const e of c.env ?? []) {
        out[e.name] = e.valueFrom ? (e.name === 'POD_IP' ? '10.0.0.7' : 'node1') : (e.value ?? '').replaceAll(/\$\(([A-Z_]+)\)/g, (_, v: string) => out[v] ?? '');
      }
      return out;
    };
    const cases: Array<[Obj, readonly FlagSpec[]]> = [
      [proxy, PROXY_FLAGS],
      [controller, CONTROLLER_FLAGS],
    ];
    for (const [w, flags] of cases) {
      const [c] = w.spec.template.spec.containers;
      const parsed = parseArgs(flags, c.args, env(c));
      t.equal(parsed.help, false, `${w.kind}: flags valid`);
      if (w === proxy) t.equal(parsed.values['node-name'], 'node1', 'node name through IKUKANTAI_NODE_NAME');
      else t.equal(parsed.values['advertise-url'], 'http://10.0.0.7:8080', 'advertise URL expands the pod IP');
    }
  });

  t.test('RBAC grants nothing beyond the table', async (t) => {
    const roles = objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role');
    t.same(roles.map((r) => `${r.kind}/${r.metadata.name}`).sort(), Object.keys(ALLOWED).sort(), 'exactly these roles');
    for (const r of roles) {
      const allowed = ALLOWED[`${r.kind}/${r.metadata.name}`] ?? {};
      for (const rule of r.rules) {
        t.notOk(rule.nonResourceURLs, 'no non-resource URLs');
        for (const g of rule.apiGroups) {
          for (const res of rule.resources) {
            for (const verb of rule.verbs) {
              t.ok(allowed[`${g}/${res}`]?.includes(verb), `${r.metadata.name}: ${verb} ${g}/${res} is allowed`);
            }
          }
        }
      }
    }
    const leaseRole = get('Role', 'ikukantai-controller-leader-election');
    t.equal(leaseRole.metadata.namespace, 'ikukantai-system', 'Lease rights only in the controller namespace');
    for (const b of objects.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')) {
      t.ok(ALLOWED[`${b.roleRef.kind}/${b.roleRef.name}`], `${b.metadata.name} binds one of our roles`);
      for (const s of b.subjects) get('ServiceAccount', s.name, s.namespace);
    }
    // Each verb says why it is needed: a line `- verb  # reason` in the source files.
    for (const file of ['proxy-rbac.yaml', 'controller-rbac.yaml']) {
      const text = await readFile(new URL(file, SOURCE), 'utf8');
      const verbLines = [...text.matchAll(/^( *)verbs:\n((?:\1  - .*\n)+)/gm)].flatMap((m) => (m[2] ?? '').trimEnd().split('\n'));
      t.ok(verbLines.length > 0, `${file}: verbs listed one per line`);
      for (const line of verbLines) t.match(line, /^\s+- [a-z]+\s+# \S/, `${file}: comment on "${line.trim()}"`);
    }
  });

  t.test('Seika CRD', async (t) => {
    const crd = get('CustomResourceDefinition', 'seikas.batch.bonavadeur.io');
    t.equal(crd.spec.group, 'batch.bonavadeur.io');
    t.equal(crd.spec.scope, 'Namespaced');
    t.same([crd.spec.names.kind, crd.spec.names.plural], ['Seika', 'seikas']);
    const [v1] = crd.spec.versions;
    t.equal(v1.name, 'v1');
    t.same(v1.subresources, { status: {} }, 'status subresource');
    const props = v1.schema.openAPIV3Schema.properties;
    t.same(Object.keys(props.spec.properties).sort(), ['repurika', 'selector', 'template']);
    t.equal(props.spec.properties.repurika.additionalProperties.type, 'integer');
    for (const k of ['repurika', 'nodes', 'ready']) t.ok(props.status.properties[k], `status.${k}`);
  });

  t.test('ServiceMonitors scrape both metrics ports and keep our labels', async (t) => {
    for (const name of ['ikukantai-proxy', 'ikukantai-controller']) {
      const sm = objects.find((o) => o.kind === 'ServiceMonitor' && o.metadata.name === name);
      t.ok(sm, `${name} ServiceMonitor`);
      const svc = objects.find(
        (o) => o.kind === 'Service' && o.metadata.namespace === sm?.metadata.namespace && selects(sm?.spec.selector.matchLabels, o.metadata.labels),
      );
      t.ok(svc, `${name}: selects a Service in its namespace`);
      for (const ep of sm?.spec.endpoints ?? []) {
        t.ok(svc?.spec.ports.some((p: { name: string }) => p.name === ep.port), `${name}: port ${ep.port} exists`);
        t.equal(ep.honorLabels, true, `${name}: our namespace/node labels win over target labels`);
      }
    }
  });

  t.test('the token file is never committed and rendering needs it', async (t) => {
    t.match(await readFile(new URL('.gitignore', SOURCE), 'utf8'), /^stats-token$/m);
    const bare = await copyOfManifests(false);
    t.teardown(() => rm(bare, { recursive: true, force: true }));
    await t.rejects(run('kubectl', ['kustomize', bare], { timeout: 60_000 }), /stats-token/);
  });
}
