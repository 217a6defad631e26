// Pure tables for the framing checks Node's parser lets through (RFC 9112 §3.2, §3.2.2, §6.1) and
// the small name helpers routing relies on. The requests are IncomingMessages filled in the way
// Node's parser fills them (rawHeaders in wire order, headers lower-cased with the first Host kept).

import t from 'tap';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { ProxyError } from '../../../../proxy/errors.ts';
import { hostName, isDns1123Label, MAX_HEADER_BYTES, MAX_HEADER_COUNT, validateRequest } from '../../../../proxy/pipeline/validate.ts';

function message(raw: string[], opts: { minor?: number; url?: string } = {}): IncomingMessage {
  const m = new IncomingMessage(new Socket());
  m.httpVersionMajor = 1;
  m.httpVersionMinor = opts.minor ?? 1;
  m.httpVersion = `1.${m.httpVersionMinor}`;
  m.url = opts.url ?? '/';
  m.rawHeaders = raw;
  const headers: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name in headers && name === 'host') continue;
    headers[name] = name in headers ? `${headers[name]}, ${raw[i + 1]!}` : raw[i + 1]!;
  }
  m.headers = headers;
  return m;
}

function fields(n: number): string[] {
  const out = ['Host', 'a.example'];
  for (let i = 1; i < n; i++) out.push(`X-F${i}`, 'v');
  return out;
}

const H = ['Host', 'hello.default.example'];

const rejected: Array<[string, IncomingMessage, string, RegExp]> = [
  ['Content-Length with Transfer-Encoding', message([...H, 'Content-Length', '5', 'Transfer-Encoding', 'chunked']), 'bad_request', /Content-Length and Transfer-Encoding/],
  ['the same, names in other case and order', message([...H, 'transfer-encoding', 'chunked', 'CONTENT-LENGTH', '5']), 'bad_request', /Content-Length and Transfer-Encoding/],
  ['two Host fields', message([...H, 'host', 'evil.example']), 'bad_request', /duplicate Host/],
  ['two Host fields with the same value', message([...H, ...H]), 'bad_request', /duplicate Host/],
  ['HTTP/1.0 with Transfer-Encoding', message([...H, 'Transfer-Encoding', 'chunked'], { minor: 0 }), 'bad_request', /HTTP\/1\.0/],
  ['HTTP/1.1 without Host', message(['Accept', '*/*']), 'bad_request', /missing Host/],
  ['absolute-form disagreeing with Host', message(H, { url: 'http://other.example/x' }), 'bad_request', /disagrees with Host/],
  ['absolute-form with another port', message(['Host', 'a.example:8080'], { url: 'http://a.example:9090/' }), 'bad_request', /disagrees with Host/],
  ['malformed non-origin target', message(H, { url: 'not a url' }), 'bad_request', /malformed request target/],
  [`${MAX_HEADER_COUNT + 1} header fields`, message(fields(MAX_HEADER_COUNT + 1)), 'headers_too_large', /more than 100/],
];

t.test('rejects the framing RFC 9112 says a proxy must reject', async (t) => {
  for (const [name, req, code, msg] of rejected) {
    try {
      validateRequest(req);
      t.fail(`${name}: accepted`);
    } catch (err) {
      t.ok(err instanceof ProxyError, `${name}: a ProxyError`);
      t.equal((err as ProxyError).code, code, `${name}: ${code}`);
      t.match((err as Error).message, msg, `${name}: says why`);
    }
  }
});

const accepted: Array<[string, IncomingMessage]> = [
  ['plain GET', message(H)],
  ['exactly 100 header fields', message(fields(MAX_HEADER_COUNT))],
  ['Content-Length alone', message([...H, 'Content-Length', '5'])],
  ['chunked alone', message([...H, 'Transfer-Encoding', 'chunked'])],
  ['HTTP/1.0 without Host', message([], { minor: 0 })],
  ['HTTP/1.0 with Content-Length', message(['Content-Length', '3'], { minor: 0 })],
  ['absolute-form agreeing with Host, any case', message(['Host', 'A.Example:8080'], { url: 'http://a.example:8080/p?q' })],
  ['asterisk-form', message(H, { url: '*' })],
  ['a field named like Host but longer', message([...H, 'Hosts', 'x', 'X-Host', 'y'])],
];

t.test('accepts well-formed requests', async (t) => {
  for (const [name, req] of accepted) t.doesNotThrow(() => validateRequest(req), name);
});

t.test('the header byte limit is 16 KiB (enforced by the parser as maxHeaderSize)', async (t) => {
  t.equal(MAX_HEADER_BYTES, 16_384);
  t.equal(MAX_HEADER_COUNT, 100);
});

t.test('hostName strips the port and lower-cases, IPv6 brackets kept', async (t) => {
  const table: Array<[string | undefined, string | undefined]> = [
    [undefined, undefined],
    ['', undefined],
    ['Hello.Default.SVC', 'hello.default.svc'],
    ['hello.default:8012', 'hello.default'],
    ['127.0.0.1:80', '127.0.0.1'],
    ['[::1]:8012', '[::1]'],
    ['[::1]', '[::1]'],
    ['[::1', '[::1'],
  ];
  for (const [input, want] of table) t.equal(hostName(input), want, String(input));
});

t.test('isDns1123Label follows Kubernetes label rules (≤ 63, lower-case alnum and inner dashes)', async (t) => {
  for (const ok of ['a', 'default', 'hello-00001', '0abc', 'a'.repeat(63)]) t.ok(isDns1123Label(ok), ok);
  for (const bad of ['', 'Default', '-a', 'a-', 'a_b', 'a.b', 'a'.repeat(64), 'héllo']) t.notOk(isDns1123Label(bad), bad);
});
