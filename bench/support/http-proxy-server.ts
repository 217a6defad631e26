// http-proxy (the long-standing Node proxy library) as a comparison point, configured fairly: a
// keep-alive Agent to the backend. Without an explicit agent http-proxy sets `Connection: close`
// on every upstream request and would be measured reconnecting. CommonJS, hence the default import;
// run with --disable-warning=DEP0060 (it calls util._extend, deprecated in Node 22+).
//   node --disable-warning=DEP0060 bench/support/http-proxy-server.ts --listen 127.0.40.5:8000 --target 127.0.40.1:8080

import { Agent, createServer, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import httpProxy from 'http-proxy';
import { parseListen } from '../../lib/cli.ts';
import { exitWithParent } from './children.ts';

function main(): void {
  const { values } = parseArgs({ options: { listen: { type: 'string' }, target: { type: 'string' } } });
  const listen = parseListen(values.listen ?? '127.0.40.5:8000');
  const proxy = httpProxy.createProxyServer({
    target: `http://${values.target ?? '127.0.40.1:8080'}`,
    agent: new Agent({ keepAlive: true }),
  });
  proxy.on('error', (_err, _req, res) => {
    const r = res as ServerResponse;
    if (typeof r.writeHead !== 'function') return void res.destroy();
    if (r.headersSent) r.destroy();
    else r.writeHead(502).end();
  });
  const server = createServer((req, res) => proxy.web(req, res));
  server.keepAliveTimeout = 65_000;
  server.listen(listen.port, listen.host);
  exitWithParent();
}

if (import.meta.main) main();
