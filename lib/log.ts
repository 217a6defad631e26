// JSON lines on stdout, one per event (DESIGN.md §2 "Logs"): time, level, event, node, and where
// known code, namespace, revision, msg. stderr is reserved for the one fatal line of an exit 2.

export const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type Level = (typeof LEVELS)[number];

export interface LogFields {
  code?: string;
  namespace?: string;
  revision?: string;
  msg?: string;
  [k: string]: unknown;
}

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  enabled(level: Level): boolean;
}

export interface LoggerOptions {
  node: string;
  level?: Level;
  write?: (line: string) => void;
}

export function createLogger({ node, level = 'info', write = defaultWrite }: LoggerOptions): Logger {
  const min = LEVELS.indexOf(level);
  const emit = (lvl: Level, event: string, fields?: LogFields): void => {
    if (LEVELS.indexOf(lvl) < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level: lvl, event, node, ...fields }) + '\n');
  };
  return {
    debug: (e, f) => emit('debug', e, f),
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
    enabled: (lvl) => LEVELS.indexOf(lvl) >= min,
  };
}

function defaultWrite(line: string): void {
  process.stdout.write(line);
}

/** A logger that keeps lines in memory, for tests that assert on events. */
export function memoryLogger(node = 'test'): Logger & { lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({ node, level: 'debug', write: (l) => lines.push(JSON.parse(l)) });
  return Object.assign(logger, { lines });
}

export function isLevel(s: string): s is Level {
  return (LEVELS as readonly string[]).includes(s);
}
