// `--rtt-file`: the node RTT prior in Kubernetes mode, in the static file's `rtt` format (a map of
// node → node → milliseconds, each pair listed once and mirrored), either bare or under an `rtt:`
// key so a static endpoints file or the emulator's topology file can be passed as is.

import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { symmetricRtt } from '../lib/model.ts';

export class RttFileError extends Error {
  readonly code = 'bad_rtt_file';
}

export function readRttFile(path: string): Map<string, Map<string, number>> {
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new RttFileError(`--rtt-file ${path}: ${(err as Error).message.split('\n')[0]}`);
  }
  const table = isObject(doc) && 'rtt' in doc ? doc['rtt'] : doc;
  if (!isObject(table)) throw new RttFileError(`--rtt-file ${path}: want a map of node → node → milliseconds`);
  const pairs: Record<string, Record<string, number>> = {};
  for (const [a, row] of Object.entries(table)) {
    if (!isObject(row)) throw new RttFileError(`--rtt-file ${path}: rtt.${a} must be a map of node → milliseconds`);
    pairs[a] = {};
    for (const [b, ms] of Object.entries(row)) {
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
        throw new RttFileError(`--rtt-file ${path}: rtt.${a}.${b} must be a number ≥ 0`);
      }
      pairs[a][b] = ms;
    }
  }
  return symmetricRtt(pairs);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
