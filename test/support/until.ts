// Polls a condition until it holds or a deadline passes: tests wait for what they need, never for a
// fixed time, and a condition that never holds fails with what was awaited.

export async function until(what: string, cond: () => boolean | Promise<boolean>, deadlineMs = 10_000, stepMs = 10): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
