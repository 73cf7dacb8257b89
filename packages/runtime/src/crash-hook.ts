import { writeSync } from 'node:fs';

/**
 * TEST ONLY (ALIGNER_CRASH_AT, ARCHIVER_CRASH_AT, WINDOWER_CRASH_AT, COMPACTION_CRASH_AT,
 * REPROCESS_CRASH_AT, INGEST_CRASH_AT = <step>[:n]): SIGKILL at the n-th time the process
 * reaches `step`, so the crash tests stop it exactly before/after a put, a commit or a
 * job's completion. A no-op when unset.
 */
export function crashHook<Step extends string = string>(spec: string, setting: string): (step: Step) => void {
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
