import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * How often the event-loop delay monitor samples (ms; `perpflow_nodejs_eventloop_lag_*`).
 * prom-client's default, 10 ms, keeps a libuv timer firing 100 times a second in every
 * process for good: 0.37 CPU-s a minute in a Node 24 process doing nothing else on this
 * machine (0.05 at 100 ms, 0.01 without a monitor); an idle aligner spent 0.83 CPU-s a
 * minute with it at 10 ms, 0.48-0.57 at 100 ms (docs/BENCHMARKS.md). A blocked loop is
 * still measured to the millisecond (a sample's delay is timed, not counted in ticks);
 * only a block shorter than the interval may fall between two samples.
 */
export const EVENT_LOOP_MONITOR_RESOLUTION_MS = 100;

/**
 * One registry per process (never prom-client's global one), with the process
 * metrics under `perpflow_process_*` (prom-client names prefixed `perpflow_`) and a `service` label on every series.
 */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({
    register: registry,
    prefix: 'perpflow_',
    eventLoopMonitoringPrecision: EVENT_LOOP_MONITOR_RESOLUTION_MS,
  });
  return registry;
}
