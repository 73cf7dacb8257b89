import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthReport {
  ok: boolean;
  /** Per-dependency detail, e.g. { kafka: 'connected', redis: 'ready' }. Never secrets. */
  details?: Record<string, string | number | boolean>;
}

export interface MetricsServerOptions {
  registry: Registry;
  /** Bind address; default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** Liveness: the process works. Default: always ok. */
  health?: () => HealthReport | Promise<HealthReport>;
  /** Readiness: dependencies connected, ready for traffic. Default: always ok. */
  ready?: () => HealthReport | Promise<HealthReport>;
}

export interface MetricsServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Serves GET /metrics, /healthz and /readyz. */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const ok = (): HealthReport => ({ ok: true });
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const report = async (fn: () => HealthReport | Promise<HealthReport>) => {
      let r: HealthReport;
      try {
        r = await fn();
      } catch (err) {
        r = { ok: false, details: { error: (err as Error).message } };
      }
      res.writeHead(r.ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(r));
    };
    if (req.method !== 'GET') {
      res.writeHead(405).end();
    } else if (path === '/metrics') {
      options.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': options.registry.contentType });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`metrics collection failed: ${err.message}`);
        },
      );
    } else if (path === '/healthz') {
      void report(options.health ?? ok);
    } else if (path === '/readyz') {
      void report(options.ready ?? ok);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('try /metrics, /healthz or /readyz\n');
    }
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
