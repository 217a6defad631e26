// POST /v1/stats (DESIGN.md §4): the proxies' demand reports. The bearer token is checked before a
// byte of the body is read, in constant time (both sides hashed to equal length first, so neither
// the content nor the length of the token leaks through timing); bodies over 1 MiB are refused
// (413), malformed ones get a 400 naming the problem, accepted ones a 204. What to do with a
// report (store, poke, forward to the leader) is the caller's `onReport`.

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../lib/log.ts';
import { BadReportError, parseStatsReport, type StatsReport } from './stats-report.ts';

export const STATS_PATH = '/v1/stats';
/** Set on a report a follower passes on to the leader, so it is never passed on again. */
export const FORWARDED_HEADER = 'ikukantai-forwarded';
const MAX_BODY_BYTES = 1024 * 1024;

export interface StatsServerOptions {
  token: string;
  /** Called for each accepted report with its raw body; `forwarded` when a follower sent it. */
  onReport: (report: StatsReport, body: Buffer, forwarded: boolean) => void;
  logger: Logger;
}

export function createStatsServer({ token, onReport, logger }: StatsServerOptions): Server {
  const expected = digest(token);
  // Headers get 10 s, checked every second (Node's default sweep is every 30 s).
  const server = createServer({ connectionsCheckingInterval: 1000 }, (req, res) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== STATS_PATH) return answer(res, 404, 'not found');
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return answer(res, 405, 'only POST');
    }
    const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
    if (!m || !timingSafeEqual(digest(m[1]!), expected)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      return answer(res, 401, 'missing or wrong bearer token', true);
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) return answer(res, 413, 'body over 1 MiB', true);
    readBody(req, res, (body) => {
      let report: StatsReport;
      try {
        report = parseStatsReport(JSON.parse(body.toString('utf8')));
      } catch (err) {
        const msg = err instanceof BadReportError ? err.message : 'body is not JSON';
        logger.warn('stats_rejected', { code: 'bad_report', msg, from: req.socket.remoteAddress });
        return answer(res, 400, msg);
      }
      onReport(report, body, req.headers[FORWARDED_HEADER] !== undefined);
      res.writeHead(204).end();
    });
  });
  // Reports are tiny and come every second over a keep-alive pool: idle sockets outlive the 1 s tick.
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 10_000;
  return server;
}

function readBody(req: IncomingMessage, res: ServerResponse, done: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      req.removeAllListeners('data');
      req.pause();
      answer(res, 413, 'body over 1 MiB', true);
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (size <= MAX_BODY_BYTES) done(Buffer.concat(chunks));
  });
  req.on('error', () => res.destroy());
}

/** A one-line plain-text answer; `close` when the request body was not (fully) read (RFC 9112 §9.6). */
function answer(res: ServerResponse, status: number, message: string, close = false): void {
  if (res.headersSent) return;
  if (close) res.setHeader('Connection', 'close');
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(message + '\n');
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
