import { type MetricsServerOptions, startMetricsServer } from '@perpflow/metrics';
import { createLogger, type Logger } from './logger.js';

/**
 * One shell for every service's `main.ts`: parse its config, open its logger and its
 * /metrics, /healthz, /readyz server, start it, report a failed start once with what to do
 * next, stop it on SIGTERM or SIGINT within a bound, and exit with a code that says how it
 * went. A service's main is then its own wiring only.
 */
export interface RunningService {
  /** Stops what start started (flush, disconnect, close); the shell exits 0 after it. */
  stop(signal: string): Promise<void>;
}

/** The keys `runService` reads; `serviceKeys()` declares them for a service's schema. */
export interface ServiceConfig {
  METRICS_HOST: string;
  METRICS_PORT: number;
  LOG_LEVEL: string;
}

/** A service's metrics: its own registry (never prom-client's global one) and its series. */
export interface ServiceMetrics {
  registry: MetricsServerOptions['registry'];
}

/** What a service's start is handed: all of it exists before start is called. */
export interface ServiceContext<C extends ServiceConfig, M extends ServiceMetrics> {
  config: C;
  /** pino at `LOG_LEVEL`, every line tagged with the service's name. */
  logger: Logger;
  metrics: M;
  /**
   * What /readyz answers: false until the service says it is ready; false again as soon as
   * a stop signal arrives (the shell sets that before the service's stop runs).
   */
  setReady(ok: boolean): void;
}

export interface ServiceSpec<C extends ServiceConfig, M extends ServiceMetrics> {
  /** As in logs and messages, e.g. `aligner`. */
  name: string;
  /** Parses the service's config (its `loadConfig`); a `ConfigError` stops start-up naming the key. */
  config(): C;
  /** Creates the service's metrics; served on `METRICS_HOST:METRICS_PORT` from before start. */
  metrics(): M;
  /** Connects and starts; resolves once the service is up (it calls `setReady(true)`). */
  start(context: ServiceContext<C, M>): Promise<RunningService>;
  /** What to check when start fails for a reason other than its config. */
  startHint: string;
  /** Stop gets this long before the process exits 1 anyway. Default 30,000. */
  shutdownTimeoutMs?: number;
}

/** A process without the shared config keys or a metrics server of its own (the simulator). */
export interface ProcessSpec {
  name: string;
  /** Parses config, connects, starts; resolves once the process is ready. */
  start(): Promise<RunningService>;
  startHint: string;
  /** Default 30,000. */
  shutdownTimeoutMs?: number;
}

/** How long a service's stop may take after SIGTERM or SIGINT before it exits with 1. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;

export const STACK_HINT = 'Is the local stack up? Try: npm run stack -- status';
export const STACK_BUCKET_HINT = 'Are the local stack and its bucket up? Try: npm run stack -- status';

/**
 * Runs a service. Config, logger and metrics server come first, inside the guarded start,
 * so a bad key or a taken metrics port is reported like any failed start. The metrics
 * server stays up through the service's stop (a last scrape sees its final counts) and is
 * closed after it.
 */
export function runService<C extends ServiceConfig, M extends ServiceMetrics>(spec: ServiceSpec<C, M>): void {
  runProcess({
    name: spec.name,
    startHint: spec.startHint,
    shutdownTimeoutMs: spec.shutdownTimeoutMs,
    start: async () => {
      const config = spec.config();
      const logger = createLogger({ service: spec.name, level: config.LOG_LEVEL });
      const metrics = spec.metrics();
      let ready = false;
      const server = await startMetricsServer({
        registry: metrics.registry,
        host: config.METRICS_HOST,
        port: config.METRICS_PORT,
        ready: () => ({ ok: ready }),
      });
      logger.info({ metrics: server.url }, 'metrics server listening');
      const running = await spec.start({
        config,
        logger,
        metrics,
        setReady: (ok) => {
          ready = ok;
        },
      });
      return {
        stop: async (signal) => {
          ready = false;
          logger.info({ signal }, 'shutting down');
          await running.stop(signal);
          await server.close();
        },
      };
    },
  });
}

/**
 * The shell under `runService`: the one place a start-up failure and a shutdown are
 * handled. The signal handlers are in place before start, so a SIGTERM during start-up
 * stops the process as soon as it is up, rather than killing it half-started.
 */
export function runProcess(spec: ProcessSpec): void {
  let running: RunningService | null = null;
  let signalled: string | null = null;
  const stop = (signal: string) => {
    const limit = spec.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
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
