import { writeSync } from 'node:fs';

/** The steps of one flush, in order; ARCHIVER_CRASH_AT may stop the process at any of them. */
export type FlushStep =
  | 'after-ledger-put'
  | 'after-object-put'
  | 'after-manifest-put'
  | 'after-index-put'
  | 'after-commit';

/**
 * TEST ONLY (ARCHIVER_CRASH_AT = <step>[:n]): SIGKILL the n-th time the process
 * reaches `step`, so the crash tests stop it exactly after a put or a commit.
 * A no-op when unset.
 */
export function crashHook(spec: string): (step: FlushStep) => void {
  if (spec === '') return () => undefined;
  const [target, nth] = spec.split(':');
  const n = Number(nth ?? 1);
  let seen = 0;
  return (step) => {
    if (step !== target || ++seen < n) return;
    // Written synchronously: the logger's buffer dies with the process.
    writeSync(
      2,
      `${JSON.stringify({ level: 'warn', step, n, msg: 'ARCHIVER_CRASH_AT reached: SIGKILL (test only)' })}\n`,
    );
    process.kill(process.pid, 'SIGKILL');
  };
}
