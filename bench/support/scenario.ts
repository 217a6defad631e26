// The one contract between `bench/run.ts` and a scenario: given the arguments after its name, run,
// print, write results, and resolve with the exit code (0 fine, 1 a "must" figure missed). A bad
// argument throws lib/cli's UsageError, which the entry turns into one stderr line and exit 2.

export type ScenarioRun = (argv: string[]) => Promise<number>;

export interface Scenario {
  /** One line for `--help`. */
  about: string;
  /** Loaded only when chosen, so one scenario's imports never slow another. */
  load: () => Promise<ScenarioRun>;
}
