import t from 'tap';
import {
  endpointState,
  mapPeers,
  mapSnapshot,
  type EndpointSliceLike,
  type RevisionLike,
} from '../../../../proxy/endpoints/slice-mapping.ts';

const PRIVATE = { 'networking.internal.knative.dev/serviceType': 'Private' };

function slice(name: string, revision: string, endpoints: EndpointSliceLike['endpoints'], extra: Partial<EndpointSliceLike> = {}): EndpointSliceLike {
  return {
    metadata: { name, namespace: 'default', labels: { ...PRIVATE, 'serving.knative.dev/revision': revision } },
    addressType: 'IPv4',
    endpoints,
    ports: [
      { name: 'http', port: 8012 },
      { name: 'http-user', port: 8080 },
    ],
    ...extra,
  };
}

function revision(name: string, svc: string | undefined, opts: { created?: string; ready?: boolean; spec?: RevisionLike['spec'] } = {}): RevisionLike {
  return {
    metadata: {
      name,
      namespace: 'default',
      labels: svc ? { 'serving.knative.dev/service': svc } : {},
      ...(opts.created ? { creationTimestamp: opts.created } : {}),
    },
    spec: opts.spec ?? {},
    ...(opts.ready !== undefined ? { status: { conditions: [{ type: 'Ready', status: opts.ready ? 'True' : 'False' }] } } : {}),
  };
}

const map = (slices: EndpointSliceLike[], revisions: RevisionLike[] = [], upstreamPortName = 'http') =>
  mapSnapshot({ slices, revisions, peerSlices: [], upstreamPortName });

t.test('endpoint conditions', async (t) => {
  const table: Array<[string, Parameters<typeof endpointState>[0], { ready: boolean; terminating: boolean }]> = [
    ['no conditions: ready (nil ready means ready)', undefined, { ready: true, terminating: false }],
    ['empty conditions', {}, { ready: true, terminating: false }],
    ['ready null', { ready: null }, { ready: true, terminating: false }],
    ['not ready', { ready: false }, { ready: false, terminating: false }],
    ['not ready but serving (not terminating): ready wins', { ready: false, serving: true }, { ready: false, terminating: false }],
    ['terminating, still serving', { ready: false, serving: true, terminating: true }, { ready: true, terminating: true }],
    ['terminating, not serving', { ready: false, serving: false, terminating: true }, { ready: false, terminating: true }],
    ['terminating, serving unknown: defer to ready', { ready: false, terminating: true }, { ready: false, terminating: true }],
  ];
  for (const [name, input, want] of table) t.same(endpointState(input), want, name);
});

t.test('revisions: fields, defaults, hosts', async (t) => {
  const s = map(
    [slice('hello-00001-a', 'hello-00001', [{ addresses: ['10.0.0.1'], nodeName: 'node1' }])],
    [
      revision('hello-00001', 'hello', {
        created: '2026-01-01T00:00:00Z',
        spec: { containerConcurrency: 10, timeoutSeconds: 60, containers: [{ readinessProbe: { httpGet: { path: '/healthz' } } }] },
      }),
    ],
  );
  t.same(s.revisions, [
    {
      namespace: 'default',
      name: 'hello-00001',
      hosts: ['hello.default', 'hello.default.svc', 'hello.default.svc.cluster.local'],
      containerConcurrency: 10,
      timeoutSeconds: 60,
      readinessPath: '/healthz',
      createdAt: Date.parse('2026-01-01T00:00:00Z'),
      endpoints: [{ address: '10.0.0.1', port: 8012, node: 'node1', ready: true, terminating: false }],
    },
  ]);

  const noRevision = map([slice('x-a', 'x-00001', [{ addresses: ['10.0.0.2'], nodeName: 'node2' }])]);
  t.same(noRevision.revisions, [
    {
      namespace: 'default',
      name: 'x-00001',
      hosts: [],
      containerConcurrency: 0,
      timeoutSeconds: 300,
      endpoints: [{ address: '10.0.0.2', port: 8012, node: 'node2', ready: true, terminating: false }],
    },
  ], 'a slice before its Revision: defaults, header routing only');

  const scaledToZero = map([], [revision('idle-00001', 'idle')]);
  t.same(scaledToZero.revisions.map((r) => [r.name, r.endpoints.length, r.hosts.length]), [['idle-00001', 0, 3]], 'a revision with no slice is still routable (cold start)');

  const mixedCase = map([], [{ metadata: { name: 'r', namespace: 'Prod', labels: { 'serving.knative.dev/service': 'Hello' } } }]);
  t.same(mixedCase.revisions[0]!.hosts, ['hello.prod', 'hello.prod.svc', 'hello.prod.svc.cluster.local'], 'hosts are lower case');
});

t.test('which revision of a Service gets its hosts', async (t) => {
  const hostsOf = (revs: RevisionLike[]) =>
    Object.fromEntries(map([], revs).revisions.map((r) => [r.name, r.hosts.length > 0]));
  const old = '2026-01-01T00:00:00Z';
  const young = '2026-01-02T00:00:00Z';
  t.same(hostsOf([revision('a-1', 'a', { created: old, ready: true }), revision('a-2', 'a', { created: young, ready: true })]), { 'a-1': false, 'a-2': true }, 'newest Ready');
  t.same(hostsOf([revision('a-1', 'a', { created: old, ready: true }), revision('a-2', 'a', { created: young, ready: false })]), { 'a-1': true, 'a-2': false }, 'a newer revision not Ready yet does not take the hosts');
  t.same(hostsOf([revision('a-1', 'a', { created: old }), revision('a-2', 'a', { created: young })]), { 'a-1': false, 'a-2': true }, 'none Ready: newest');
  t.same(hostsOf([revision('a-00002', 'a', { created: old }), revision('a-00001', 'a', { created: old })]), { 'a-00001': false, 'a-00002': true }, 'same second: higher name');
  t.same(hostsOf([revision('a-1', 'a', { created: old }), revision('b-1', 'b', { created: old })]), { 'a-1': true, 'b-1': true }, 'services are independent');
  t.same(hostsOf([revision('n-1', undefined)]), { 'n-1': false }, 'no service label, no hosts');
});

t.test('slices: selection, ports, merging', async (t) => {
  const ep = (addr: string, node = 'node1', conditions = {}) => ({ addresses: [addr, '10.9.9.9'], nodeName: node, conditions });
  const s = map([
    slice('r-b', 'r', [ep('10.0.0.2', 'node2'), ep('10.0.0.3', 'node1', { ready: false })]),
    slice('r-a', 'r', [ep('10.0.0.1'), ep('10.0.0.3', 'node1', { ready: true })]),
    slice('r-fqdn', 'r', [ep('host.example')], { addressType: 'FQDN' }),
    slice('r-noport', 'r', [ep('10.0.0.4')], { ports: [{ name: 'metrics', port: 9090 }] }),
    slice('r-nonode', 'r', [{ addresses: ['10.0.0.5'] }, { addresses: [], nodeName: 'node1' }]),
    { ...slice('public', 'r', [ep('10.0.0.6')]), metadata: { name: 'public', namespace: 'default', labels: { 'serving.knative.dev/revision': 'r' } } },
  ]);
  t.same(
    s.revisions[0]!.endpoints.map((e) => `${e.address}:${e.port}@${e.node}${e.ready ? '' : ' not-ready'}`),
    ['10.0.0.1:8012@node1', '10.0.0.3:8012@node1', '10.0.0.2:8012@node2'],
    'several slices merged; a duplicated address keeps its ready entry; FQDN, portless, node-less and public slices ignored; first address only',
  );
  const user = map([slice('r-a', 'r', [ep('10.0.0.1')])], [], 'http-user');
  t.equal(user.revisions[0]!.endpoints[0]!.port, 8080, '--upstream-port-name picks the port');

  const other = map([{ ...slice('o', 'o', [ep('10.0.0.7')]), metadata: { name: 'o', namespace: 'prod', labels: { ...PRIVATE, 'serving.knative.dev/revision': 'o' } } }], [revision('o', 'o')]);
  t.same(other.revisions.map((r) => `${r.namespace}/${r.name}:${r.endpoints.length}`), ['default/o:0', 'prod/o:1'], 'namespace comes from the slice metadata');
});

t.test('peers', async (t) => {
  const peerSlice = (name: string, eps: EndpointSliceLike['endpoints'], port = 8014): EndpointSliceLike => ({
    metadata: { name, namespace: 'ikukantai-system' },
    addressType: 'IPv4',
    endpoints: eps,
    ports: [{ name: 'peer', port }],
  });
  const peers = mapPeers([
    peerSlice('p-a', [
      { addresses: ['10.1.0.1'], nodeName: 'node1' },
      { addresses: ['10.1.0.2'], nodeName: 'node2', conditions: { ready: false, serving: true, terminating: true } },
      { addresses: ['10.1.0.9'] },
    ]),
    peerSlice('p-b', [{ addresses: ['10.1.0.3'], nodeName: 'node2' }]),
    { ...peerSlice('p-c', [{ addresses: ['10.1.0.4'], nodeName: 'node3' }]), ports: [{ name: 'http', port: 80 }] },
  ]);
  t.same(Object.fromEntries(peers), {
    node1: { node: 'node1', address: '10.1.0.1', port: 8014 },
    node2: { node: 'node2', address: '10.1.0.3', port: 8014 },
  }, 'one peer per node, a ready one over a terminating one; no `peer` port, no peer');
  t.same(mapPeers([]).size, 0, 'none found = no peers');
});
