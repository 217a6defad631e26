// The backend every target forwards to: a tiny node:http server with a fixed small body, run as a
// child process so its CPU never mixes with the bench's or a proxy's. It answers before reading any
// request body (the bench sends GETs) and keeps connections open for 65 s, longer than any run, so
// every proxy's upstream keep-alive is measured rather than reconnects.
//   node bench/support/backend-server.ts --listen 127.0.40.1:8080

import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { parseListen } from '../../lib/cli.ts';
import { exitWithParent } from './children.ts';

/** The small body: 32 bytes, well inside one TCP segment either way. */
export const BACKEND_BODY = 'Konnichiwa from the bench app!!\n';

function main(): void {
  const { values } = parseArgs({ options: { listen: { type: 'string' } } });
  const listen = parseListen(values.listen ?? '127.0.40.1:8080');
  const body = Buffer.from(BACKEND_BODY);
  const headers = { 'content-type': 'text/plain', 'content-length': String(body.length) };
  const server = createServer((req, res) => {
    res.writeHead(200, headers);
    res.end(body);
    req.resume();
  });
  server.keepAliveTimeout = 65_000;
  server.listen(listen.port, listen.host);
  exitWithParent();
}

if (import.meta.main) main();
