import { Counter, createRegistry, Gauge, type Registry } from '@perpflow/metrics';

/** The simulator's own registry (never prom-client's global one); labels from bounded sets only. */
export interface SimMetrics {
  registry: Registry;
  requests: Counter<'venue' | 'endpoint' | 'status'>;
  faults: Counter<'kind' | 'venue'>;
  wsConnections: Gauge<'venue'>;
  wsMessages: Counter<'venue' | 'channel'>;
}

export function createSimMetrics(): SimMetrics {
  const registry = createRegistry('exchange-sim');
  return {
    registry,
    requests: new Counter({
      name: 'perpflow_sim_http_requests_total',
      help: 'REST requests answered, by venue, endpoint and HTTP status',
      labelNames: ['venue', 'endpoint', 'status'],
      registers: [registry],
    }),
    faults: new Counter({
      name: 'perpflow_sim_faults_injected_total',
      help: 'Faults injected (HTTP, candle, websocket, market overlays, rate-limit answers), by kind and venue',
      labelNames: ['kind', 'venue'],
      registers: [registry],
    }),
    wsConnections: new Gauge({
      name: 'perpflow_sim_ws_connections',
      help: 'Open websocket connections by venue',
      labelNames: ['venue'],
      registers: [registry],
    }),
    wsMessages: new Counter({
      name: 'perpflow_sim_ws_messages_total',
      help: 'Websocket messages pushed, by venue and channel (kline, liquidation)',
      labelNames: ['venue', 'channel'],
      registers: [registry],
    }),
  };
}
