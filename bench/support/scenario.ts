// The one contract between `bench/run.ts` and a scenario: given the arguments after its name, run,
// print, write results, and resolve with the exit code (0 fine, 1 a "must" figure missed). A bad
// argument throws lib/cli's UsageError, which the entry turns into one stderr line and exit 2.

import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { UsageError } from '../../lib/cli.ts';

export type ScenarioRun = (argv: string[]) => Promise<number>;

export interface Scenario {
  /** One line for `--help`. */
  about: string;
  /** Loaded only when chosen, so one scenario's imports never slow another. */
  load: () => Promise<ScenarioRun>;
}

/** A scenario's flags through node:util's parseArgs; its multi-line errors become one-line UsageErrors. */
export function parseScenarioArgs<const T extends ParseArgsOptionsConfig>(
  argv: string[],
  options: T,
): ReturnType<typeof parseArgs<{ args: string[]; options: T }>>['values'] {
  try {
    return parseArgs({ args: argv, options }).values;
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!);
  }
}

/** A `--name` value that must be a positive number; `fallback` when the flag is absent. */
export function positiveFlag(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!(n > 0) || !Number.isFinite(n)) throw new UsageError(`--${name} wants a positive number, got "${text}"`);
  return n;
}
