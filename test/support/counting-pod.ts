// A test pod that counts its own concurrency, so tests can prove what the proxy let through rather
// than trusting the proxy's gauges: `maxInflight` is the most requests it ever held at once. While
// `held` is on, it keeps every request open until `releaseAll()`; otherwise it answers after
// `delayMs` (long enough for 50 clients to overlap on loopback).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { startBackend, type Backend } from './proxy-harness.ts';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface CountingPod extends Backend {
  readonly name: string;
  inflight: number;
  maxInflight: number;
  /** Requests whose handler ran (a request the proxy never forwarded is never counted). */
  count: number;
  /** When true, new requests wait for releaseAll(). */
  held: boolean;
  /** Answers every held request and stops holding new ones. */
  releaseAll(): void;
}

export async function startCountingPod(t: Teardown, address: string, name: string, delayMs = 2): Promise<CountingPod> {
  const waiting: Array<() => void> = [];
  const answer = (req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'text/plain', 'x-pod': name });
    res.end(`hello from ${name} ${req.url}\n`);
  };
  let pod: CountingPod;
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    pod.count++;
    pod.inflight++;
    pod.maxInflight = Math.max(pod.maxInflight, pod.inflight);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      pod.inflight--;
    };
    res.on('close', finish);
    req.resume();
    req.on('end', () => {
      if (pod.held) waiting.push(() => answer(req, res));
      else setTimeout(() => answer(req, res), delayMs);
    });
  };
  const backend = await startBackend(t, address, handler);
  pod = Object.assign(backend, {
    name,
    inflight: 0,
    maxInflight: 0,
    count: 0,
    held: false,
    releaseAll(): void {
      pod.held = false;
      for (const w of waiting.splice(0)) w();
    },
  });
  return pod;
}
