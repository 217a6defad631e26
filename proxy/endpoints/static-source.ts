// The static-file endpoint source (DESIGN.md §3): loads `--endpoints FILE` at start-up (a bad file
// rejects start(), which the bin turns into exit 2) and then follows edits, applying each within
// 2 s. Editors and tools change files in three ways, and each needs catching:
//   - in place (truncate + write): the directory watch names the file, and the size/mtime change;
//   - atomic rename of a temp file over it (also how a Kubernetes ConfigMap volume swaps its
//     `..data` symlink): a new inode, which some filesystems (overlayfs, NFS) never report to
//     fs.watch at all;
//   - delete, then create: a short window with no file at all.
// So a directory fs.watch and a stat poll (inode, size, mtime, ctime every pollMs ≤ 500 ms) both
// schedule a check, whichever fires first; the check re-reads only when the stat changed (or the
// watch named our file) and applies only when the content changed, so one edit gives one snapshot.
// A bad edit keeps the last good snapshot and logs why, once per distinct reason.

import { readFileSync, statSync, watch, type FSWatcher, type Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from '../../lib/log.ts';
import type { EndpointSource, Snapshot } from '../../lib/model.ts';
import { parseStaticFile, StaticFileError, type ParsedStaticFile } from './static-file.ts';

export interface StaticSourceOptions {
  file: string;
  nodeName: string;
  logger: Logger;
  /** Stat poll interval, 1–500 ms (default 250): with the settle delay and a read, well inside 2 s. */
  pollMs?: number;
}

export type StaticSource = EndpointSource & { current(): Snapshot };

const DEFAULT_POLL_MS = 250;
const MAX_POLL_MS = 500;
// Read this long after the first change notice: an in-place save is usually several syscalls
// (truncate, write, write) a few ms apart, and reading in the middle would reject a half file.
const SETTLE_MS = 50;

export function createStaticSource(opts: StaticSourceOptions): StaticSource {
  const { file, nodeName, logger, pollMs = DEFAULT_POLL_MS } = opts;
  if (!Number.isInteger(pollMs) || pollMs < 1 || pollMs > MAX_POLL_MS) {
    throw new RangeError(`pollMs must be an integer 1-${MAX_POLL_MS}, got ${pollMs}`);
  }
  const dir = dirname(file);
  const base = basename(file);

  let onSnapshot: ((s: Snapshot) => void) | undefined;
  let snapshot: Snapshot | undefined;
  let goodText: string | undefined;
  let lastStat: string | undefined;
  let lastRejected: string | undefined;
  let watcher: FSWatcher | undefined;
  let poll: NodeJS.Timeout | undefined;
  let settle: NodeJS.Timeout | undefined;
  let checking: Promise<void> | undefined;
  let rerun = false;
  let readAnyway = false;
  let closed = false;

  const accept = (text: string, parsed: ParsedStaticFile): void => {
    goodText = text;
    lastRejected = undefined;
    snapshot = parsed.snapshot;
    for (const w of parsed.warnings) logger.warn('endpoints_file_warning', { msg: w });
    logger.info('endpoints_file_loaded', { msg: file, revisions: parsed.snapshot.revisions.length });
    onSnapshot?.(parsed.snapshot);
  };

  const reject = (msg: string): void => {
    if (msg === lastRejected) return;
    lastRejected = msg;
    logger.warn('endpoints_file_rejected', { code: 'bad_endpoints_file', msg: `${msg}; keeping the last good file` });
  };

  const check = async (): Promise<void> => {
    const force = readAnyway;
    readAnyway = false;
    let sig: string;
    try {
      sig = signature(await stat(file));
    } catch (err) {
      sig = `unreadable ${errorText(err)}`;
    }
    if (!force && sig === lastStat) return;
    lastStat = sig;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (!closed) reject(new StaticFileError('', `cannot read: ${errorText(err)}`, file).message);
      return;
    }
    if (closed) return;
    if (text === goodText) {
      // Touched, or put back as it was after a bad edit: nothing new to apply, but after a
      // rejection the operator learns that the file is good again.
      if (lastRejected !== undefined && snapshot) {
        lastRejected = undefined;
        logger.info('endpoints_file_loaded', { msg: `${file} (same as the last good file)`, revisions: snapshot.revisions.length });
      }
      return;
    }
    let parsed: ParsedStaticFile;
    try {
      parsed = parseStaticFile(text, { nodeName, fileName: file });
    } catch (err) {
      if (!(err instanceof StaticFileError)) throw err;
      reject(err.message);
      return;
    }
    accept(text, parsed);
  };

  // One check at a time; notices that arrive during a check run one more afterwards.
  const kick = (): void => {
    if (checking) {
      rerun = true;
      return;
    }
    checking = check()
      .catch((err: unknown) => logger.error('endpoints_file_apply_failed', { msg: errorText(err) }))
      .finally(() => {
        checking = undefined;
        if (rerun && !closed) {
          rerun = false;
          kick();
        }
      });
  };

  const schedule = (namesOurFile: boolean): void => {
    if (closed) return;
    readAnyway ||= namesOurFile;
    if (settle) return;
    settle = setTimeout(() => {
      settle = undefined;
      kick();
    }, SETTLE_MS);
    settle.unref();
  };

  const startWatching = (): void => {
    try {
      // persistent: false, like an unref'd timer: the watch never keeps the process alive.
      watcher = watch(dir, { persistent: false }, (_event, name) => schedule(name === null || name === base));
      watcher.on('error', (err) => {
        logger.debug('endpoints_watch_failed', { msg: `${errorText(err)}; polling only` });
        watcher?.close();
        watcher = undefined;
      });
    } catch (err) {
      logger.debug('endpoints_watch_failed', { msg: `${errorText(err)}; polling only` });
    }
    poll = setInterval(() => schedule(false), pollMs);
    poll.unref();
  };

  return {
    async start(cb) {
      if (onSnapshot || closed) throw new Error('static endpoint source: start() called twice or after close()');
      onSnapshot = cb;
      let text: string;
      try {
        // Stat before reading, so an edit landing between the two is seen by the first poll.
        lastStat = signature(statSync(file));
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw new StaticFileError('', `cannot read: ${errorText(err)}`, file);
      }
      accept(text, parseStaticFile(text, { nodeName, fileName: file }));
      startWatching();
    },
    synced: () => snapshot !== undefined,
    current() {
      if (!snapshot) throw new Error('static endpoint source: current() before a successful start()');
      return snapshot;
    },
    async close() {
      closed = true;
      clearInterval(poll);
      clearTimeout(settle);
      settle = undefined;
      watcher?.close();
      watcher = undefined;
      await checking;
    },
  };
}

function signature(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/** `ENOENT`, `EACCES`, …: the file name is already in the message's prefix. */
function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? (err instanceof Error ? err.message : String(err));
}
