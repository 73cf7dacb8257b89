import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * One registry per process (never prom-client's global one), with the process
 * metrics under `perpflow_process_*` (prom-client names prefixed `perpflow_`) and a `service` label on every series.
 */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'perpflow_' });
  return registry;
}
