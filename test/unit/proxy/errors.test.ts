// The error catalogue (proxy/errors.ts) is a contract with users: every code a client can see in
// `Ikukantai-Error` must be documented in the README's table with the same status, and the README
// must not promise a code the proxy never sends (STYLE.md 6, after fastify's errors test).

import t from 'tap';
import { readFileSync } from 'node:fs';
import { ERRORS, ProxyError, isProxyError, type ErrorCode } from '../../../proxy/errors.ts';

const README = new URL('../../../README.md', import.meta.url);
const HEADING = '## Errors the proxy makes itself';

/** Rows of the first markdown table under the heading, as code → status. */
function readmeTable(markdown: string): Map<string, number> {
  const start = markdown.indexOf(HEADING);
  if (start === -1) throw new Error(`README has no "${HEADING}" section`);
  const lines = markdown.slice(start + HEADING.length).split('\n');
  const rows = new Map<string, number>();
  let inTable = false;
  for (const line of lines) {
    if (line.startsWith('## ')) break;
    if (!line.startsWith('|')) {
      if (inTable) break;
      continue;
    }
    inTable = true;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    // Header row and the |---| separator row carry no backticked code.
    const code = /^`([a-z_]+)`$/.exec(cells[0] ?? '');
    if (!code) continue;
    const status = Number(cells[1]);
    if (!Number.isInteger(status)) throw new Error(`README row for ${code[1]} has no numeric status: ${line}`);
    if (rows.has(code[1]!)) throw new Error(`README lists ${code[1]} twice`);
    rows.set(code[1]!, status);
  }
  return rows;
}

t.test('the README table and the catalogue list the same codes with the same statuses', async (t) => {
  const documented = readmeTable(readFileSync(README, 'utf8'));
  t.ok(documented.size >= 9, `parsed ${documented.size} rows`);
  for (const [code, { status }] of Object.entries(ERRORS)) {
    t.equal(documented.get(code), status, `${code} documented with status ${status}`);
  }
  for (const code of documented.keys()) t.ok(code in ERRORS, `README code ${code} exists in proxy/errors.ts`);
});

t.test('each entry is a client or server error with a one-line message', async (t) => {
  for (const [code, { status, message }] of Object.entries(ERRORS)) {
    t.ok(status >= 400 && status <= 599, `${code}: status ${status}`);
    t.match(code, /^[a-z]+(_[a-z]+)*$/, `${code}: snake_case, usable as a metric label`);
    t.ok(message.length > 0 && !/[\r\n]/.test(message), `${code}: one line`);
  }
});

t.test('ProxyError carries the code and status; the detail replaces the default message', async (t) => {
  const plain = new ProxyError('queue_full');
  t.equal(plain.code, 'queue_full');
  t.equal(plain.status, 503);
  t.equal(plain.message, ERRORS.queue_full.message);
  const detailed = new ProxyError('bad_request', 'duplicate Host header');
  t.equal(detailed.status, 400);
  t.equal(detailed.message, 'duplicate Host header');
  t.ok(isProxyError(detailed));
  t.notOk(isProxyError(new Error('x')));
  const code: ErrorCode = detailed.code;
  t.equal(code, 'bad_request');
});

t.test('the table parser finds a missing or extra row', async (t) => {
  const md = `${HEADING}\n\ntext\n\n| code | status | when |\n|---|---|---|\n| \`no_route\` | 404 | x |\n| \`extra_one\` | 418 | y |\n\nafter\n| \`not_in_table\` | 500 | z |\n`;
  t.same([...readmeTable(md)], [['no_route', 404], ['extra_one', 418]]);
  t.throws(() => readmeTable('# nothing here'), /no "## Errors/);
});
