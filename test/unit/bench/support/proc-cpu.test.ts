import t from 'tap';
import { clockTicksPerSecond, parseProcStat, ProcCpu, treeTicks } from '../../../../bench/support/proc-cpu.ts';

// A real line shape from proc(5): pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
// majflt cmajflt utime stime cutime cstime …
const line = (pid: number, comm: string, ppid: number, utime: number, stime: number): string =>
  `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1 4194560 1000 0 0 0 ${utime} ${stime} 7 9 20 0 11 0 123 0 0\n`;

t.test('reads pid, ppid and utime + stime (not the children fields)', async (t) => {
  t.same(parseProcStat(line(42, 'node', 1, 150, 25)), { pid: 42, ppid: 1, ticks: 175 });
});

t.test('a command name with spaces and parentheses does not shift the fields', async (t) => {
  t.same(parseProcStat(line(7, 'nginx: worker (x) ) y', 6, 3, 4)), { pid: 7, ppid: 6, ticks: 7 });
});

t.test('rejects what is not a stat line', async (t) => {
  t.throws(() => parseProcStat('hello'));
  t.throws(() => parseProcStat('1 (a) S x'));
});

t.test('sums a process tree and ignores the rest', async (t) => {
  const all = [
    { pid: 1, ppid: 0, ticks: 1000 },
    { pid: 10, ppid: 1, ticks: 5 }, // nginx master
    { pid: 11, ppid: 10, ticks: 300 }, // its worker
    { pid: 12, ppid: 11, ticks: 2 }, // a grandchild
    { pid: 20, ppid: 1, ticks: 999 }, // unrelated
  ];
  t.equal(treeTicks(10, all), 307);
  t.equal(treeTicks(20, all), 999);
  t.ok(Number.isNaN(treeTicks(99, all)), 'a gone process is NaN, never 0');
});

t.test('this process has used CPU, and the count only grows', async (t) => {
  t.ok(clockTicksPerSecond() > 0);
  const cpu = new ProcCpu();
  const a = cpu.micros(process.pid);
  let x = 0;
  const until = performance.now() + 50;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  const b = cpu.micros(process.pid);
  t.ok(a > 0 && x > 0);
  t.ok(b >= a);
  t.ok(Number.isNaN(cpu.micros(2 ** 22 + 1)), 'pid beyond pid_max');
});
