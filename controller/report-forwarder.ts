// A follower passes each report it accepted on to the leader (DESIGN.md §4 "High availability"),
// so proxies may post to any instance behind the controller Service. The body goes on unchanged,
// marked with `Ikukantai-Forwarded` so the receiver never passes it on again (no loops while two
// instances briefly disagree about who leads). Fire and forget: a report is worth ~1 s, so a failed
// forward is dropped, and an outage is logged when it starts and when it ends, not every second.

import { Agent } from 'undici';
import type { Logger } from '../lib/log.ts';
import { FORWARDED_HEADER, STATS_PATH } from './stats-server.ts';

// A report is small and the leader answers at once; 2 s (two report intervals) tells a dead leader
// from a slow one without piling up requests.
const TIMEOUT_MS = 2000;

export class ReportForwarder {
  readonly #agent = new Agent({ connectTimeout: TIMEOUT_MS, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
  readonly #token: string;
  readonly #logger: Logger;
  #failing = false;

  constructor({ token, logger }: { token: string; logger: Logger }) {
    this.#token = token;
    this.#logger = logger;
  }

  forward(leaderUrl: string, body: Buffer): void {
    const url = new URL(STATS_PATH, leaderUrl);
    this.#agent
      .request({
        origin: url.origin,
        path: url.pathname,
        method: 'POST',
        headers: { authorization: `Bearer ${this.#token}`, 'content-type': 'application/json', [FORWARDED_HEADER]: '1' },
        body,
      })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode !== 204) throw new Error(`leader answered ${res.statusCode}`);
        if (this.#failing) this.#logger.info('forward_recovered', { msg: `reports reach the leader ${leaderUrl} again` });
        this.#failing = false;
      })
      .catch((err: Error) => {
        if (!this.#failing) this.#logger.warn('forward_failed', { code: 'forward_failed', msg: `${leaderUrl}: ${err.message}` });
        this.#failing = true;
      });
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}
