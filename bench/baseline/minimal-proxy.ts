// The baseline our proxy is measured against (DESIGN.md §8 "must: CPU per request ≤ 1.2 × a minimal
// undici pool.stream proxy"): the least a Node proxy can do. One node:http server, one undici Pool
// to one backend, `pool.stream` piping the response straight into `res`. No routing, no metrics, no
// breaker, no timeouts, and — a deliberate shortcut — no hop-by-hop header stripping (RFC 9110
// §7.6.1) in either direction: request headers go to undici as received, which is fine for the
// bench's plain keep-alive GETs (undici would refuse a `Transfer-Encoding` or `Keep-Alive` request
// header). An upstream error before headers is a 502 whose body is the error code; after headers
// the client socket is cut.
//   node bench/baseline/minimal-proxy.ts --listen 127.0.40.3:8000 --target 127.0.40.1:8080

import { createServer, type OutgoingHttpHeaders } from 'node:http';
import { parseArgs } from 'node:util';
import { Pool, type Dispatcher } from 'undici';
import { parseListen } from '../../lib/cli.ts';
import { exitWithParent } from '../support/children.ts';

function main(): void {
  const { values } = parseArgs({ options: { listen: { type: 'string' }, target: { type: 'string' } } });
  const listen = parseListen(values.listen ?? '127.0.40.3:8000');
  const pool = new Pool(`http://${values.target ?? '127.0.40.1:8080'}`);

  const server = createServer((req, res) => {
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    pool.stream(
      {
        path: req.url ?? '/',
        method: req.method as Dispatcher.HttpMethod,
        headers: req.headers,
        body: hasBody ? req : undefined,
      },
      ({ statusCode, headers }) => {
        res.writeHead(statusCode, headers as OutgoingHttpHeaders);
        return res;
      },
      (err) => {
        if (!err) return;
        if (res.headersSent) res.destroy();
        else res.writeHead(502, { 'content-type': 'text/plain' }).end(`${(err as NodeJS.ErrnoException).code ?? err.message}\n`);
      },
    );
  });
  server.keepAliveTimeout = 65_000;
  server.listen(listen.port, listen.host);
  exitWithParent();
}

if (import.meta.main) main();
