// Whether a process still exists (signal 0 checks without touching it): the "leaves no process
// behind" tests ask it of every pid they started.

export function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
