/**
 * One shell for every service's `main.ts`: start it, report a failed start once with what
 * to do next, stop it on SIGTERM or SIGINT within a bound, and exit with a code that says
 * how it went. A service's main is then its own wiring only.
 */
export interface RunningService {
  /** Stops what start started (flush, disconnect, close); the shell exits 0 after it. */
  stop(signal: string): Promise<void>;
}

export interface ServiceSpec {
  /** As in logs and messages, e.g. `aligner`. */
  name: string;
  /** Parses config, connects, starts; resolves once the service is ready. */
  start(): Promise<RunningService>;
  /** What to check when start fails for a reason other than its config. */
  startHint: string;
  /** Stop gets this long before the process exits 1 anyway. Default 30,000. */
  shutdownTimeoutMs?: number;
}

export const STACK_HINT = 'Is the local stack up? Try: npm run stack -- status';
export const STACK_BUCKET_HINT = 'Are the local stack and its bucket up? Try: npm run stack -- status';

/**
 * Runs a service: the one place its start-up failure and its shutdown are handled. The
 * signal handlers are in place before start, so a SIGTERM during start-up stops the
 * service as soon as it is up, rather than killing it half-started.
 */
export function runService(spec: ServiceSpec): void {
  let running: RunningService | null = null;
  let signalled: string | null = null;
  const stop = (signal: string) => {
    const limit = spec.shutdownTimeoutMs ?? 30_000;
    setTimeout(() => {
      console.error(`${spec.name}: shutdown did not finish within ${limit} ms; exiting`);
      process.exit(1);
    }, limit).unref();
    (running as RunningService).stop(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`${spec.name}: shutdown failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: string) => {
    if (signalled !== null) return;
    signalled = signal;
    if (running !== null) stop(signal);
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  spec.start().then(
    (r) => {
      running = r;
      if (signalled !== null) stop(signalled);
    },
    (err: unknown) => {
      console.error(`${spec.name} failed to start: ${err instanceof Error ? err.message : String(err)}`);
      if ((err as { code?: string } | null)?.code === 'CONFIG_INVALID')
        console.error('Fix the named environment variable (see docs/CONFIGURATION.md) and start again.');
      else console.error(spec.startHint);
      process.exit(1);
    },
  );
}
