import { writeSync } from 'node:fs';

/**
 * TEST ONLY (WINDOWER_CRASH_AT, COMPACTION_CRASH_AT = <step>[:n]): SIGKILL at the n-th
 * time the process reaches `step`, so the crash tests stop it exactly before/after a
 * put or a commit. A no-op when unset.
 */
export function crashHook(spec: string, setting: string): (step: string) => void {
  if (spec === '') return () => undefined;
  const [target, nth] = spec.split(':');
  const n = Number(nth ?? 1);
  let seen = 0;
  return (step) => {
    if (step !== target || ++seen < n) return;
    // Written synchronously: the logger's buffer dies with the process.
    writeSync(
      2,
      `${JSON.stringify({ level: 'warn', step, n, msg: `${setting} reached: SIGKILL (test only)` })}\n`,
    );
    process.kill(process.pid, 'SIGKILL');
  };
}
