import { readFileSync } from 'node:fs';
import t from 'tap';
import { parseStaticFile, StaticFileError } from '../../../../proxy/endpoints/static-file.ts';

const fixture = readFileSync(new URL('../../../fixtures/endpoints-example.yaml', import.meta.url), 'utf8');

type Doc = Record<string, any>;

function base(): Doc {
  return {
    node: 'node1',
    nodes: { node1: { peer: '127.0.10.1:8014' }, node2: { peer: '127.0.10.2:8014' } },
    rtt: { node1: { node2: 12 } },
    revisions: [
      {
        namespace: 'default',
        name: 'hello-00001',
        hosts: ['hello.default.example.com'],
        endpoints: [
          { address: '127.0.11.1', port: 8080, node: 'node1' },
          { address: '127.0.12.1', port: 8080, node: 'node2' },
        ],
      },
      {
        namespace: 'default',
        name: 'bye-00001',
        hosts: ['bye.default.example.com'],
        endpoints: [{ address: '127.0.11.2', port: 8080, node: 'node1' }],
      },
    ],
  };
}

function parse(doc: unknown, nodeName = 'node1') {
  return parseStaticFile(JSON.stringify(doc), { nodeName });
}

t.test('the DESIGN.md §3 example parses with its defaults filled in', async (t) => {
  const { snapshot, warnings } = parseStaticFile(fixture, { nodeName: 'node1', fileName: 'endpoints-example.yaml' });
  t.same(warnings, []);
  t.same(snapshot.revisions, [
    {
      namespace: 'default',
      name: 'hello-00001',
      hosts: ['hello.default.svc.cluster.local', 'hello.default.example.com'],
      containerConcurrency: 0,
      timeoutSeconds: 300,
      readinessPath: '/healthz',
      endpoints: [
        { address: '127.0.11.1', port: 8080, node: 'node1', ready: true, terminating: false },
        { address: '127.0.13.1', port: 8080, node: 'node3', ready: false, terminating: false },
      ],
    },
  ]);
  t.same([...snapshot.peers.keys()], ['node1', 'node3'], 'own node kept');
  t.same(snapshot.peers.get('node3'), { node: 'node3', address: '127.0.10.3', port: 8014 });
  t.equal(snapshot.rtt.get('node1')?.get('node3'), 50);
  t.equal(snapshot.rtt.get('node3')?.get('node1'), 50, 'mirrored');
});

t.test('defaults for a minimal file', async (t) => {
  const { snapshot, warnings } = parse({ revisions: [{ namespace: 'ns', name: 'r' }] }, 'any');
  t.same(warnings, []);
  t.same(snapshot.revisions, [{ namespace: 'ns', name: 'r', hosts: [], containerConcurrency: 0, timeoutSeconds: 300, endpoints: [] }]);
  t.equal(snapshot.peers.size, 0);
  t.equal(snapshot.rtt.size, 0);
  t.same(parse({ revisions: [] }, 'any').snapshot.revisions, []);
});

t.test('explicit values are kept; hosts are lower-cased and nothing else', async (t) => {
  const doc = base();
  Object.assign(doc.revisions[0], { containerConcurrency: 10, timeoutSeconds: 1, hosts: ['Hello.Default.Example.COM', 'trailing.dot.'] });
  doc.revisions[0].endpoints[0].terminating = true;
  doc.revisions[0].endpoints[1] = { address: '::1', port: 65535, node: 'node2', ready: false };
  const rev = parse(doc).snapshot.revisions[0]!;
  t.equal(rev.containerConcurrency, 10);
  t.equal(rev.timeoutSeconds, 1);
  t.same(rev.hosts, ['hello.default.example.com', 'trailing.dot.']);
  t.same(rev.endpoints, [
    { address: '127.0.11.1', port: 8080, node: 'node1', ready: true, terminating: true },
    { address: '::1', port: 65535, node: 'node2', ready: false, terminating: false },
  ]);
});

t.test('peers: IPv4, [IPv6] and DNS names', async (t) => {
  const doc = base();
  doc.nodes = { a: { peer: '[::1]:8014' }, b: { peer: 'proxy-b.example:1' }, node2: { peer: '127.0.10.2:8014' } };
  const peers = parse(doc).snapshot.peers;
  t.same(peers.get('a'), { node: 'a', address: '::1', port: 8014 });
  t.same(peers.get('b'), { node: 'b', address: 'proxy-b.example', port: 1 });
});

t.test('rtt is mirrored; a pair given both ways differently warns', async (t) => {
  const doc = base();
  doc.rtt = { a: { b: 5, c: 0 }, b: { a: 7 } };
  const { snapshot, warnings } = parse(doc);
  t.equal(snapshot.rtt.get('c')?.get('a'), 0);
  t.equal(snapshot.rtt.get('a')?.get('b'), 7);
  t.equal(snapshot.rtt.get('b')?.get('a'), 7);
  t.same(warnings, ['rtt.b.a: 7 differs from rtt.a.b (5); 7 is used both ways']);
  doc.rtt = { a: { b: 5 }, b: { a: 5 } };
  t.same(parse(doc).warnings, [], 'same value both ways is fine');
});

// Each case breaks one thing of a good file; the error must name exactly that path.
const errorCases: Array<[string, (d: Doc) => void, string, RegExp]> = [
  ['node of another proxy', (d) => (d.node = 'node9'), 'node', /for node "node9", this proxy runs on node "node1"/],
  ['node not a string', (d) => (d.node = 1), 'node', /for node 1/],
  ['nodes a list', (d) => (d.nodes = []), 'nodes', /must be a mapping/],
  ['node entry not a mapping', (d) => (d.nodes.node2 = '127.0.10.2:8014'), 'nodes.node2', /must be a mapping/],
  ['peer missing', (d) => (d.nodes.node2 = {}), 'nodes.node2.peer', /must be "host:port".*got nothing/],
  ['peer without port', (d) => (d.nodes.node2.peer = '127.0.10.2'), 'nodes.node2.peer', /host:port/],
  ['peer port 0', (d) => (d.nodes.node2.peer = '127.0.10.2:0'), 'nodes.node2.peer', /host:port/],
  ['peer port too big', (d) => (d.nodes.node2.peer = '127.0.10.2:65536'), 'nodes.node2.peer', /host:port/],
  ['peer IPv6 unbracketed', (d) => (d.nodes.node2.peer = '::1:8014'), 'nodes.node2.peer', /host:port/],
  ['peer with a scheme', (d) => (d.nodes.node2.peer = 'http://a:80'), 'nodes.node2.peer', /host:port/],
  ['rtt a list', (d) => (d.rtt = [1]), 'rtt', /must be a mapping/],
  ['rtt row a number', (d) => (d.rtt = { node1: 5 }), 'rtt.node1', /must be a mapping/],
  ['rtt negative', (d) => (d.rtt.node1.node2 = -1), 'rtt.node1.node2', />= 0, got -1/],
  ['rtt a string', (d) => (d.rtt.node1.node2 = '5'), 'rtt.node1.node2', /got "5"/],
  ['revisions missing', (d) => delete d.revisions, 'revisions', /must be a list/],
  ['revisions a mapping', (d) => (d.revisions = {}), 'revisions', /must be a list.*got a mapping/],
  ['revision not a mapping', (d) => (d.revisions[1] = 'x'), 'revisions[1]', /must be a mapping/],
  ['namespace missing', (d) => delete d.revisions[1].namespace, 'revisions[1].namespace', /required/],
  ['namespace upper case', (d) => (d.revisions[1].namespace = 'Default'), 'revisions[1].namespace', /DNS-1123 label/],
  ['namespace ends with -', (d) => (d.revisions[1].namespace = 'a-'), 'revisions[1].namespace', /DNS-1123 label/],
  ['name 64 chars', (d) => (d.revisions[1].name = 'a'.repeat(64)), 'revisions[1].name', /DNS-1123 label/],
  ['name with a dot', (d) => (d.revisions[1].name = 'a.b'), 'revisions[1].name', /DNS-1123 label/],
  ['name a number', (d) => (d.revisions[1].name = 5), 'revisions[1].name', /got 5/],
  ['duplicate revision', (d) => (d.revisions[1].name = 'hello-00001'), 'revisions[1]', /duplicate revision default\/hello-00001 \(also revisions\[0\]\)/],
  ['one host on two revisions', (d) => d.revisions[1].hosts.push('HELLO.default.example.com'), 'revisions[1].hosts[1]', /"hello.default.example.com" already routes to default\/hello-00001/],
  ['a taken host after a repeated one', (d) => d.revisions[1].hosts.push('bye.default.example.com', 'hello.default.example.com'), 'revisions[1].hosts[2]', /already routes to default\/hello-00001 \(revisions\[0\]\)/],
  ['hosts a string', (d) => (d.revisions[0].hosts = 'a.b'), 'revisions[0].hosts', /must be a list/],
  ['host with a port', (d) => (d.revisions[0].hosts = ['a.b:80']), 'revisions[0].hosts[0]', /without port or scheme/],
  ['host with a scheme', (d) => (d.revisions[0].hosts = ['http://a.b']), 'revisions[0].hosts[0]', /host name/],
  ['host empty', (d) => (d.revisions[0].hosts = ['']), 'revisions[0].hosts[0]', /host name/],
  ['host wildcard', (d) => (d.revisions[0].hosts = ['*.a.b']), 'revisions[0].hosts[0]', /host name/],
  ['host not a string', (d) => (d.revisions[0].hosts = [1]), 'revisions[0].hosts[0]', /got 1/],
  ['containerConcurrency negative', (d) => (d.revisions[0].containerConcurrency = -1), 'revisions[0].containerConcurrency', /integer >= 0/],
  ['containerConcurrency fraction', (d) => (d.revisions[0].containerConcurrency = 1.5), 'revisions[0].containerConcurrency', /got 1.5/],
  ['containerConcurrency a string', (d) => (d.revisions[0].containerConcurrency = '1'), 'revisions[0].containerConcurrency', /got "1"/],
  ['timeoutSeconds 0', (d) => (d.revisions[0].timeoutSeconds = 0), 'revisions[0].timeoutSeconds', /integer >= 1/],
  ['timeoutSeconds fraction', (d) => (d.revisions[0].timeoutSeconds = 0.5), 'revisions[0].timeoutSeconds', /integer >= 1/],
  ['readinessPath relative', (d) => (d.revisions[0].readinessPath = 'healthz'), 'revisions[0].readinessPath', /starting with "\/"/],
  ['readinessPath with a space', (d) => (d.revisions[0].readinessPath = '/a b'), 'revisions[0].readinessPath', /without spaces/],
  ['endpoints a mapping', (d) => (d.revisions[0].endpoints = {}), 'revisions[0].endpoints', /must be a list/],
  ['endpoint not a mapping', (d) => (d.revisions[0].endpoints[1] = '127.0.0.1:80'), 'revisions[0].endpoints[1]', /must be a mapping/],
  ['address a host name', (d) => (d.revisions[0].endpoints[1].address = 'localhost'), 'revisions[0].endpoints[1].address', /IPv4 or IPv6/],
  ['address missing', (d) => delete d.revisions[0].endpoints[1].address, 'revisions[0].endpoints[1].address', /got nothing/],
  ['address with port', (d) => (d.revisions[0].endpoints[1].address = '127.0.0.1:80'), 'revisions[0].endpoints[1].address', /IPv4 or IPv6/],
  ['port 0', (d) => (d.revisions[0].endpoints[0].port = 0), 'revisions[0].endpoints[0].port', /must be 1-65535, got 0/],
  ['port 65536', (d) => (d.revisions[0].endpoints[0].port = 65536), 'revisions[0].endpoints[0].port', /1-65535/],
  ['port a string', (d) => (d.revisions[0].endpoints[0].port = '8080'), 'revisions[0].endpoints[0].port', /got "8080"/],
  ['node missing', (d) => delete d.revisions[0].endpoints[0].node, 'revisions[0].endpoints[0].node', /node name/],
  ['node empty', (d) => (d.revisions[0].endpoints[0].node = ''), 'revisions[0].endpoints[0].node', /node name/],
  ['ready a string', (d) => (d.revisions[0].endpoints[0].ready = 'yes'), 'revisions[0].endpoints[0].ready', /true or false, got "yes"/],
  ['terminating a number', (d) => (d.revisions[0].endpoints[0].terminating = 1), 'revisions[0].endpoints[0].terminating', /true or false/],
  ['same endpoint twice', (d) => (d.revisions[0].endpoints[1] = { ...d.revisions[0].endpoints[0] }), 'revisions[0].endpoints[1]', /same address and port as endpoints\[0\]/],
];

t.test('every error names its path, in one line', async (t) => {
  t.ok(parse(base()), 'the base document is valid');
  for (const [what, mutate, path, message] of errorCases) {
    const doc = base();
    mutate(doc);
    let err: unknown;
    try {
      parseStaticFile(JSON.stringify(doc), { nodeName: 'node1', fileName: 'eps.json' });
    } catch (e) {
      err = e;
    }
    if (!(err instanceof StaticFileError)) {
      t.fail(`${what}: expected a StaticFileError, got ${String(err)}`);
      continue;
    }
    t.equal(err.code, 'bad_endpoints_file', what);
    t.equal(err.path, path, what);
    t.ok(err.message.startsWith(`eps.json: ${path}: `), `${what}: ${err.message}`);
    t.match(err.message, message, what);
    t.notMatch(err.message, /\n/, `${what}: one line`);
  }
});

function laughs(): string {
  const lines = ['l0: &l0 [lol, lol]'];
  for (let i = 1; i <= 12; i++) lines.push(`l${i}: &l${i} [${Array(10).fill(`*l${i - 1}`).join(', ')}]`);
  return lines.join('\n') + '\n';
}

t.test('whole-document errors: empty, not a mapping, bad syntax', async (t) => {
  const cases: Array<[string, string | undefined, RegExp]> = [
    ['', undefined, /^the document is empty$/],
    ['# only a comment\n', undefined, /empty/],
    ['[1, 2]', undefined, /must be a mapping .* got a list/],
    ['"text"', 'f.json', /^f\.json: the document must be a mapping .* got "text"/],
    ['revisions: [1\n', 'f.yaml', /^f\.yaml: invalid YAML: line \d+, column \d+: /],
    ['revisions: []\nrevisions: []\n', undefined, /invalid YAML: line 2, column 1: Map keys must be unique/],
    ['{"revisions": [],}\n{', 'f.json', /^f\.json: invalid JSON: /],
    ['{"revisions": [], "revisions": []}', 'f.json', /^f\.json: invalid JSON: line 1, column 19: Map keys must be unique$/],
    ['{"revisions": [\n  {"namespace": "a",\n}', undefined, /^invalid JSON: /],
    ['revisions: []\n---\nrevisions: []\n', undefined, /invalid YAML: .*multiple documents/],
    // "Billion laughs": each level repeats the one before; alias expansion is capped.
    [laughs(), undefined, /^invalid YAML: .*alias/i],
  ];
  for (const [text, fileName, message] of cases) {
    const opts = fileName === undefined ? { nodeName: 'n' } : { nodeName: 'n', fileName };
    t.throws(() => parseStaticFile(text, opts), { code: 'bad_endpoints_file', path: '', message }, JSON.stringify(text));
    try {
      parseStaticFile(text, opts);
    } catch (err) {
      t.notMatch((err as Error).message, /\n/, 'one line');
    }
  }
});

t.test('YAML and JSON spellings of one file give the same snapshot', async (t) => {
  const yaml = `
revisions:
  - namespace: default
    name: hello-00001
    hosts: [Hello.Example.com]
    containerConcurrency: 2
    endpoints:
      - address: 127.0.11.1
        port: 8080
        node: node1
        ready: false
`;
  const json = JSON.stringify({
    revisions: [
      {
        namespace: 'default',
        name: 'hello-00001',
        hosts: ['Hello.Example.com'],
        containerConcurrency: 2,
        endpoints: [{ address: '127.0.11.1', port: 8080, node: 'node1', ready: false }],
      },
    ],
  });
  const a = parseStaticFile(yaml, { nodeName: 'node1', fileName: 'x.yaml' });
  const b = parseStaticFile(json, { nodeName: 'node1', fileName: 'x.json' });
  t.same(a, b);
  t.same(a.snapshot.revisions[0]?.hosts, ['hello.example.com']);
});

t.test('warnings: unknown keys at every level, unusable endpoints, repeated hosts', async (t) => {
  const doc = base();
  doc.extra = 1;
  doc.nodes.node2.weight = 3;
  doc.revisions[0].annotations = {};
  doc.revisions[0].endpoints[0].zone = 'a';
  doc.revisions[1].hosts.push('BYE.default.example.com');
  doc.revisions[1].endpoints.push({ address: '127.0.13.1', port: 8080, node: 'node3' });
  const { snapshot, warnings } = parse(doc);
  t.same(warnings.sort(), [
    'extra: unknown key, ignored',
    'nodes.node2.weight: unknown key, ignored',
    'revisions[0].annotations: unknown key, ignored',
    'revisions[0].endpoints[0].zone: unknown key, ignored',
    'revisions[1].endpoints[1]: unusable: no peer for node node3 (add nodes.node3.peer)',
    'revisions[1].hosts[1]: "bye.default.example.com" listed twice, ignored',
  ]);
  t.same(snapshot.revisions[1]?.hosts, ['bye.default.example.com']);
  t.equal(snapshot.revisions[1]?.endpoints.length, 2, 'the unusable endpoint is kept; routing decides');
});

t.test('an endpoint on this node needs no peer entry', async (t) => {
  const doc = base();
  delete doc.nodes;
  doc.revisions[0].endpoints.pop();
  t.same(parse(doc).warnings, []);
});
