import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { SimClock, type SimClockOptions } from './clock.js';
import {
  type FaultInjector as FaultInjectorT,
  FaultInjector,
  type FaultSpec,
  FaultSpecSchema,
} from './faults/faults.js';
import { type StreamClient, StreamEngine } from './live/streams.js';
import { MarketModel, type MarketModelOptions } from './market/model.js';
import { MINUTE_MS } from './market/types.js';
import { createSimMetrics, type SimMetrics } from './metrics.js';
import {
  type GateRequest,
  type Venue,
  type VenueContext,
  type VenueGate,
  type VenueId,
  VENUES,
  type VenueLimits,
} from './venues/index.js';

export interface SimServerOptions {
  /** Bind address. Default 127.0.0.1 (never expose the simulator). */
  host?: string;
  /** Port; 0 picks a free one. Default 39200. */
  port?: number;
  /** The market (seed, symbols, missing candles, liquidation rate). */
  market: MarketModelOptions;
  clock?: SimClockOptions;
  /** Each venue's rate-limit options (defaults: the venue's documented limits). */
  limits?: VenueLimits;
  /** Open-interest history retention. Default 30 days. */
  openInterestRetentionMs?: number;
  /** Wall milliseconds between websocket pushes. Default 1000. */
  pushIntervalMs?: number;
  /** Faults active from the start. */
  faults?: FaultSpec;
}

export interface SimServer {
  readonly url: string;
  readonly wsUrl: string;
  readonly port: number;
  readonly model: MarketModel;
  readonly clock: SimClock;
  readonly faults: FaultInjectorT;
  readonly metrics: SimMetrics;
  /** Applies a fault spec as POST /__sim/faults does. */
  applyFaults(spec: FaultSpec): void;
  state(): Record<string, unknown>;
  reset(): void;
  close(): Promise<void>;
}

const VENUE_LIST: Venue[] = Object.values(VENUES);

/** Largest POST body read (Hyperliquid-style info requests are a few hundred bytes). */
const MAX_POST_BYTES = 64 * 1024;

/** One HTTP + WS server answering for every venue by original host (first path segment). */
export async function startSimServer(options: SimServerOptions): Promise<SimServer> {
  const model = new MarketModel(options.market);
  const clock = new SimClock(options.clock);
  const metrics = createSimMetrics();
  const faults = new FaultInjector(options.market.seed, (kind, venue, n) =>
    metrics.faults.inc({ kind, venue }, n),
  );
  const gates = new Map<VenueId, VenueGate>(
    VENUE_LIST.map((v) => [v.id, v.createGate(options.limits?.[v.id as keyof VenueLimits])]),
  );
  const retentionMs = options.openInterestRetentionMs ?? 30 * 86_400_000;
  const baseMissingRate = options.market.missingCandleRate ?? 0;
  const requests = { total: 0, byVenue: {} as Record<string, number> };
  const context = (): VenueContext => ({
    model,
    faults,
    nowMs: clock.now(),
    openInterestRetentionMs: retentionMs,
  });
  const engine = new StreamEngine({
    model,
    faults,
    context,
    pushIntervalMs: options.pushIntervalMs ?? 1000,
    onMessages: (venue, channel, n) => metrics.wsMessages.inc({ venue, channel }, n),
  });
  const hanging = new Set<ServerResponse>();

  const applyFaults = (spec: FaultSpec): void => {
    const now = clock.now();
    faults.applyRates(spec);
    if (spec.missingCandleRate !== undefined) {
      model.setMissingCandleRate(spec.missingCandleRate);
      faults.count('missing_candle', 'all');
    }
    if (spec.spike) {
      const fromMs = Math.floor((spec.spike.fromMs ?? now) / MINUTE_MS) * MINUTE_MS;
      model.addSpike({
        symbol: spec.spike.symbol,
        factor: spec.spike.factor,
        minutes: spec.spike.minutes,
        fromMs,
      });
      faults.count('price_spike', 'all');
    }
    if (spec.shift) {
      model.addShift({ ...spec.shift, fromMs: spec.shift.fromMs ?? now });
      faults.count('distribution_shift', 'all');
    }
    if (spec.silence) {
      model.spec(spec.silence.symbol);
      faults.silence(spec.silence.symbol, spec.silence.fromMs ?? now);
      faults.count('silent_symbol', 'all');
    }
    if (spec.unsilence) faults.unsilence(spec.unsilence);
    if (spec.banMs !== undefined)
      faults.ban(
        clock.wall() + spec.banMs,
        spec.venue === 'all'
          ? VENUE_LIST.map((v) => v.id)
          : spec.venue
            ? [spec.venue]
            : VENUE_LIST.filter((v) => v.banSaysHowLong).map((v) => v.id),
      );
    if (spec.dropWebsockets) {
      for (const c of engine.clients) {
        c.socket.terminate();
        faults.count('ws_drop', c.venue.id);
      }
    }
  };

  const state = (): Record<string, unknown> => ({
    nowMs: clock.now(),
    wallMs: clock.wall(),
    speed: clock.speed,
    seed: model.seed,
    symbols: model.symbols.length,
    faults: faults.active,
    overlays: model.overlays,
    faultCounts: Object.fromEntries(faults.counts),
    requests,
    wsClients: engine.clients.size,
    limits: Object.fromEntries([...gates].map(([id, g]) => [id, g.state(clock.wall())])),
  });

  const reset = (): void => {
    faults.reset();
    for (const g of gates.values()) g.reset();
    model.resetOverlays(baseMissingRate, options.market.shifts, options.market.spikes);
    requests.total = 0;
    requests.byVenue = {};
  };

  if (options.faults) applyFaults(options.faults);

  const sendJson = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  const control = async (req: IncomingMessage, res: ServerResponse, path: string) => {
    if (req.method === 'GET' && path === '/__sim/state') return sendJson(res, 200, state());
    if (req.method === 'POST' && path === '/__sim/reset') {
      reset();
      return sendJson(res, 200, { ok: true });
    }
    if (req.method === 'POST' && path === '/__sim/faults') {
      let raw = '';
      for await (const chunk of req) raw += chunk;
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw || '{}');
      } catch {
        return sendJson(res, 400, { ok: false, error: 'body is not JSON' });
      }
      const spec = FaultSpecSchema.safeParse(parsed);
      if (!spec.success) {
        const issue = spec.error.issues[0];
        return sendJson(res, 400, {
          ok: false,
          error: `${issue?.path.join('.') || '(body)'}: ${issue?.message}`,
        });
      }
      try {
        applyFaults(spec.data);
      } catch (err) {
        return sendJson(res, 400, { ok: false, error: (err as Error).message });
      }
      return sendJson(res, 200, { ok: true, state: state() });
    }
    return sendJson(res, 404, {
      ok: false,
      error: 'try GET /__sim/state, POST /__sim/faults, POST /__sim/reset',
    });
  };

  const handleRest = (
    venue: Venue,
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: URLSearchParams,
    body: unknown,
  ) => {
    const wall = clock.wall();
    requests.total++;
    requests.byVenue[venue.id] = (requests.byVenue[venue.id] ?? 0) + 1;
    const count = (endpoint: string, status: number) =>
      metrics.requests.inc({ venue: venue.id, endpoint, status: String(status) });
    const gate = gates.get(venue.id);
    if (!gate) return sendJson(res, 500, { error: `no rate-limit gate for venue '${venue.id}'` });
    const request: GateRequest = {
      ip: req.socket.remoteAddress ?? 'unknown',
      wallMs: wall,
      nowMs: clock.now(),
      path,
      query,
      body,
    };
    const injected = faults.rateLimitFault(venue.id, wall);
    const admitted = injected ? undefined : gate.admit(request);
    const refusal = injected
      ? gate.injected(injected.kind, injected.retryAfterS, request)
      : admitted?.refusal;
    if (refusal) {
      faults.count(refusal.kind, venue.id);
      count('rate_limit', refusal.status);
      if (typeof refusal.body === 'string') {
        res.writeHead(refusal.status, { 'content-type': 'text/plain; charset=utf-8', ...refusal.headers });
        res.end(refusal.body);
        return;
      }
      return sendJson(res, refusal.status, refusal.body, refusal.headers);
    }
    const headers: Record<string, string> = admitted?.headers ?? {};

    const fault = faults.httpFault(venue.id);
    if (fault === 'hang') {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      count('hang', 0);
      return;
    }
    if (fault === 'http_5xx') {
      const status = [500, 502, 503][Math.floor(Math.random() * 3)] ?? 500;
      count('fault', status);
      res.writeHead(status, { 'content-type': 'text/html', ...headers });
      return res.end(`<html><body><h1>${status} Server Error</h1></body></html>`);
    }
    let answer: ReturnType<Venue['rest']>;
    try {
      answer =
        req.method === 'POST' && venue.post
          ? venue.post(path, body, context())
          : venue.rest(path, query, context());
    } catch (err) {
      count('error', 500);
      return sendJson(res, 500, { code: -1000, msg: `simulator error: ${(err as Error).message}` }, headers);
    }
    count(answer.endpoint, answer.status);
    if (fault === 'html_body') {
      res.writeHead(200, { 'content-type': 'text/html', ...headers });
      return res.end(
        '<!DOCTYPE html><html><head><title>Bad gateway</title></head><body>cloudflare</body></html>',
      );
    }
    // A string body is the venue's plain-text answer (e.g. Hyperliquid's 422), as for refusals.
    const plain = typeof answer.body === 'string';
    const text = plain ? (answer.body as string) : JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      'content-type': plain ? 'text/plain; charset=utf-8' : 'application/json',
      // The venue's clock, as real venues send it (HTTP Date, 1 s resolution); the ingest reads
      // it as the time of answers that carry none (Hyperliquid's metaAndAssetCtxs).
      date: new Date(clock.now()).toUTCString(),
      ...headers,
    });
    res.end(fault === 'malformed_json' ? text.slice(0, Math.max(1, Math.floor(text.length / 2))) : text);
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sim');
    const path = url.pathname;
    if (path.startsWith('/__sim/')) {
      control(req, res, path).catch((err: Error) => sendJson(res, 500, { ok: false, error: err.message }));
      return;
    }
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(text);
        },
        (err: Error) => sendJson(res, 500, { error: err.message }),
      );
      return;
    }
    if (path === '/healthz' || path === '/readyz') return sendJson(res, 200, { ok: true });
    const slash = path.indexOf('/', 1);
    const host = slash > 0 ? path.slice(1, slash) : path.slice(1);
    const venue = VENUE_LIST.find((v) => v.restHost === host);
    if (!venue || slash < 0) return sendJson(res, 404, { error: `unknown venue host '${host}'` });
    const rest = path.slice(slash);
    const serve = (body: unknown) => {
      const delayMs = faults.latencyFor(venue.id);
      if (delayMs > 0) setTimeout(() => handleRest(venue, req, res, rest, url.searchParams, body), delayMs);
      else handleRest(venue, req, res, rest, url.searchParams, body);
    };
    if (req.method === 'GET') return serve(undefined);
    if (req.method !== 'POST' || !venue.post)
      return sendJson(res, 405, {
        error: `${venue.id} in the simulator serves ${venue.post ? 'GET and POST' : 'GET'} only`,
      });
    readJsonBody(req).then(
      (body) => serve(body),
      (err: Error) => sendJson(res, 400, { error: err.message }),
    );
  });

  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const wsUrl = new URL(req.url ?? '/', 'http://sim');
    const path = wsUrl.pathname;
    const host = path.split('/')[1] ?? '';
    const venue = VENUE_LIST.find((v) => v.wsHost === host);
    if (!venue) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const client: StreamClient = {
        id: randomUUID(),
        venue,
        socket: ws,
        topics: new Map(),
        combined: venue.combinedStream?.(path) ?? false,
      };
      engine.add(client);
      metrics.wsConnections.inc({ venue: venue.id });
      const initial = venue.topicsFromPath(path, context(), wsUrl.searchParams);
      if (initial.length) engine.subscribe(client, initial);
      ws.on('message', (data) => {
        let msg: unknown;
        try {
          msg = JSON.parse(String(data));
        } catch {
          msg = String(data);
        }
        const c = venue.control(msg, context(), client.id, path);
        if (c.subscribe) engine.subscribe(client, c.subscribe);
        if (c.unsubscribe) engine.unsubscribe(client, c.unsubscribe);
        for (const r of [...(c.reply === undefined ? [] : [c.reply]), ...(c.replies ?? [])])
          ws.send(typeof r === 'string' ? r : JSON.stringify(r));
      });
      ws.on('close', () => {
        engine.remove(client);
        metrics.wsConnections.dec({ venue: venue.id });
      });
      ws.on('error', () => ws.terminate());
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 39200, options.host ?? '127.0.0.1', () => resolve());
  });
  engine.start();
  const port = (server.address() as AddressInfo).port;
  const host = options.host ?? '127.0.0.1';
  return {
    url: `http://${host}:${port}`,
    wsUrl: `ws://${host}:${port}`,
    port,
    model,
    clock,
    faults,
    metrics,
    applyFaults,
    state,
    reset,
    close: async () => {
      engine.stop();
      for (const c of engine.clients) c.socket.terminate();
      for (const r of hanging) r.destroy();
      wss.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** A POST's JSON body, at most MAX_POST_BYTES; the error names what is wrong. */
async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_POST_BYTES) throw new Error(`request body over ${MAX_POST_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`request body is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
}
