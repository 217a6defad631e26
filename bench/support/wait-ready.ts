// Readiness waits: a child counts as started when its port accepts a connection (or, for our proxy,
// when /readyz answers 200). Polled every 20 ms against a deadline, and abandoned at once if the
// child exits, so a proxy that refuses its flags fails the run with its own one-line reason.
// `until` is the same wait for any condition a scenario needs (a queue filled, a cluster at zero).

import { connect } from 'node:net';
import { request } from 'undici';
import type { Child } from './children.ts';

const POLL_MS = 20;

function tryConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function tryGet(url: string): Promise<boolean> {
  try {
    const res = await request(url, { headersTimeout: 1000, bodyTimeout: 1000 });
    await res.body.dump();
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

async function poll(what: string, child: Child | undefined, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child && !child.running()) {
      throw new Error(`${child.name} exited before ${what} was ready:\n${child.output() || '(no output)'}`);
    }
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const detail = child ? `\n${child.output() || '(no output)'}` : '';
  throw new Error(`${what} not ready within ${timeoutMs} ms${detail}`);
}

/** Resolves once host:port accepts TCP connections. */
export function waitForPort(host: string, port: number, child?: Child, timeoutMs = 10_000): Promise<void> {
  return poll(`${host}:${port}`, child, timeoutMs, () => tryConnect(host, port));
}

/** Resolves once `url` answers 200. */
export function waitForHttp200(url: string, child?: Child, timeoutMs = 10_000): Promise<void> {
  return poll(url, child, timeoutMs, () => tryGet(url));
}

/** Polls `check` every `stepMs` until it holds; throws `<what>: not within <timeoutMs> ms` after the deadline. */
export async function until(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>, stepMs = 25): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
