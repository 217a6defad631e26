// Preloaded (`--import`) into the emulated cluster's long-running children (proxies, controller) so
// that they never outlive the process that started them, even when it dies by SIGKILL (a tap
// timeout, a killed terminal): the parent holds the write end of the child's stdin, the kernel
// closes it when the parent goes, and the child sees end-of-file and drains itself with SIGTERM,
// exactly as on a normal stop. The pods get the same lifeline through their IPC channel.

/** A drain that has not finished this long after the parent went is cut short. */
const ORPHAN_EXIT_MS = 15_000;

const stdin = process.stdin;
stdin.on('end', () => {
  setTimeout(() => process.exit(1), ORPHAN_EXIT_MS).unref();
  process.kill(process.pid, 'SIGTERM');
});
stdin.on('error', () => {});
stdin.resume();
// Watching stdin must not keep a child alive that has finished its own drain.
(stdin as unknown as { unref?: () => void }).unref?.();
