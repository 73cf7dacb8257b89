import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, createRegistry } from '@perpflow/metrics';
import { WebSocket, WebSocketServer } from 'ws';
import { hash32 } from './market/random.js';
import { MarketModel, MINUTE, symbolIds } from './market/model.js';
import { type BinanceContext, binanceRest, forceOrderEvent, type VenueAnswer } from './venues/binanceusdm.js';

/** Faults the simulator injects on demand (POST /__sim/faults), all off by default. */
export interface Faults {
  /** Fraction of REST answers replaced by HTTP 502. */
  http5xxRate: number;
  /** Fraction of REST answers that hang past the client's timeout. */
  timeoutRate: number;
  /** Fraction of REST answers that are HTTP 200 with a broken JSON body. */
  malformedRate: number;
  /** Symbols whose data stops advancing from the moment they are listed here. */
  silentSymbols: string[];
  /** Close every websocket now (clients must reconnect). */
  dropWebsockets: boolean;
}

export interface SimOptions {
  host: string;
  port: number;
  seed: number;
  symbols: number;
  launchMs: number;
  weightLimit: number;
  oiHistoryDays: number;
  missingCandleRate: number;
  liquidationPushMs: number;
  now?: () => number;
}

export interface Simulator {
  url: string;
  port: number;
  model: MarketModel;
  symbols: string[];
  close(): Promise<void>;
}

/**
 * One HTTP + WebSocket server speaking Binance USDⓈ-M: REST under
 * `/fapi.binance.com/...`, streams under `ws://…/fstream.binance.com/...`,
 * control under `/__sim/...`, Prometheus text on `/metrics`.
 */
export async function startSimulator(o: SimOptions): Promise<Simulator> {
  const now = o.now ?? Date.now;
  const symbols = symbolIds(o.symbols);
  const model = new MarketModel({
    seed: o.seed,
    ...(o.missingCandleRate > 0 ? { isMissing: missingCandles(o.seed, o.missingCandleRate) } : {}),
  });
  const silentSince = new Map<string, number>();
  const ctx: BinanceContext = {
    model,
    symbols,
    now,
    silentSince,
    oiHistoryRetentionMs: o.oiHistoryDays * 86_400_000,
    launchMs: o.launchMs,
  };
  let faults: Faults = {
    http5xxRate: 0,
    timeoutRate: 0,
    malformedRate: 0,
    silentSymbols: [],
    dropWebsockets: false,
  };
  const registry = createRegistry('exchange-sim');
  const requests = new Counter({
    name: 'perpflow_sim_requests_total',
    help: 'REST requests by path and status',
    labelNames: ['path', 'status'],
    registers: [registry],
  });
  const injected = new Counter({
    name: 'perpflow_sim_faults_injected_total',
    help: 'Faults injected, by kind',
    labelNames: ['kind'],
    registers: [registry],
  });
  const pushed = new Counter({
    name: 'perpflow_sim_ws_events_total',
    help: 'Websocket events pushed, by stream kind',
    labelNames: ['kind'],
    registers: [registry],
  });

  // Request weight per client per minute; 429 over the limit, 418 (escalating ban) for hammering after a 429.
  const weights = new Map<
    string,
    { minute: number; used: number; bannedUntil: number; bans: number; limitedUntil: number }
  >();

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://sim');
    const path = url.pathname;
    if (path === '/metrics') {
      void registry
        .metrics()
        .then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text));
      return;
    }
    if (path.startsWith('/__sim/')) return control(req, res, path);
    const m = /^\/fapi\.binance\.com(\/.*)$/.exec(path);
    if (!m) return send(res, 404, { code: -5000, msg: `unknown path ${path}` }, path);
    const venuePath = m[1]!;
    const client = req.socket.remoteAddress ?? 'local';
    const t = now();
    const w = weights.get(client) ?? { minute: 0, used: 0, bannedUntil: 0, bans: 0, limitedUntil: 0 };
    weights.set(client, w);
    const minute = Math.floor(t / MINUTE);
    if (w.minute !== minute) {
      w.minute = minute;
      w.used = 0;
    }
    if (t < w.bannedUntil) {
      injected.inc({ kind: 'ban_418' });
      return send(
        res,
        418,
        { code: -1003, msg: `Way too many requests; IP banned until ${w.bannedUntil}.` },
        venuePath,
        { 'retry-after': String(Math.ceil((w.bannedUntil - t) / 1000)) },
      );
    }
    if (t < w.limitedUntil) {
      // Still calling while told to wait: escalate to a ban, as the venue does.
      w.bans++;
      w.bannedUntil = t + Math.min(3_600_000, 2 ** w.bans * 60_000);
      injected.inc({ kind: 'ban_418' });
      return send(res, 418, { code: -1003, msg: 'Way too many requests; IP banned.' }, venuePath, {
        'retry-after': String(Math.ceil((w.bannedUntil - t) / 1000)),
      });
    }
    const answer: VenueAnswer = binanceRest(ctx, venuePath, url.searchParams);
    w.used += answer.weight;
    const headers = { 'x-mbx-used-weight-1m': String(w.used), 'x-mbx-used-weight': String(w.used) };
    if (w.used > o.weightLimit) {
      w.limitedUntil = (minute + 1) * MINUTE;
      injected.inc({ kind: 'rate_limit_429' });
      return send(
        res,
        429,
        { code: -1003, msg: 'Too many requests; current limit is exceeded.' },
        venuePath,
        { ...headers, 'retry-after': String(Math.ceil((w.limitedUntil - t) / 1000)) },
      );
    }
    const roll = hash32(o.seed, t, Math.random()) / 4_294_967_296;
    if (roll < faults.timeoutRate) {
      injected.inc({ kind: 'timeout' });
      setTimeout(() => res.destroy(), 60_000).unref();
      return;
    }
    if (roll < faults.timeoutRate + faults.http5xxRate) {
      injected.inc({ kind: 'http_5xx' });
      return send(res, 502, '<html><body>502 Bad Gateway</body></html>', venuePath, headers, 'text/html');
    }
    if (roll < faults.timeoutRate + faults.http5xxRate + faults.malformedRate) {
      injected.inc({ kind: 'malformed_json' });
      requests.inc({ path: venuePath, status: '200' });
      res.writeHead(200, { 'content-type': 'application/json', ...headers }).end('{"code":0,"data":[[1,"2",');
      return;
    }
    send(res, answer.status, answer.body, venuePath, headers);
  };

  const send = (
    res: ServerResponse,
    status: number,
    body: unknown,
    path: string,
    headers: Record<string, string> = {},
    type = 'application/json',
  ) => {
    requests.inc({ path: path.length < 64 ? path : 'other', status: String(status) });
    res
      .writeHead(status, { 'content-type': type, ...headers })
      .end(typeof body === 'string' ? body : JSON.stringify(body));
  };

  const control = (req: IncomingMessage, res: ServerResponse, path: string) => {
    if (path === '/__sim/state' && req.method === 'GET')
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          faults,
          symbols: symbols.length,
          now: now(),
          silentSince: Object.fromEntries(silentSince),
        }),
      );
    if (path === '/__sim/reset' && req.method === 'POST') {
      faults = { http5xxRate: 0, timeoutRate: 0, malformedRate: 0, silentSymbols: [], dropWebsockets: false };
      silentSince.clear();
      weights.clear();
      return void res.writeHead(200).end('{}');
    }
    if (path === '/__sim/faults' && req.method === 'POST') {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        try {
          const next = { ...faults, ...(JSON.parse(body) as Partial<Faults>) };
          for (const k of ['http5xxRate', 'timeoutRate', 'malformedRate'] as const)
            if (!(next[k] >= 0 && next[k] <= 1)) throw new Error(`${k} must be between 0 and 1`);
          const unknown = next.silentSymbols.filter((x) => !symbols.includes(x));
          if (unknown.length) throw new Error(`silentSymbols: unknown ${unknown.join(', ')}`);
          for (const sym of next.silentSymbols) if (!silentSince.has(sym)) silentSince.set(sym, now());
          for (const sym of [...silentSince.keys()])
            if (!next.silentSymbols.includes(sym)) silentSince.delete(sym);
          if (next.dropWebsockets) {
            for (const c of wss.clients) c.terminate();
            injected.inc({ kind: 'ws_drop' });
            next.dropWebsockets = false;
          }
          faults = next;
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(faults));
        } catch (e) {
          res
            .writeHead(400, { 'content-type': 'application/json' })
            .end(JSON.stringify({ error: (e as Error).message }));
        }
      });
      return;
    }
    res.writeHead(404).end();
  };

  const server: Server = createServer(handle);
  const wss = new WebSocketServer({ server });
  const subs = new Map<WebSocket, Set<string>>();
  wss.on('connection', (ws, req) => {
    if (!(req.url ?? '').startsWith('/fstream.binance.com')) return ws.close(1008, 'unknown stream host');
    subs.set(ws, new Set());
    ws.on('message', (raw) => {
      let msg: { method?: string; params?: string[]; id?: number };
      try {
        msg = JSON.parse(String(raw));
      } catch {
        return ws.send(JSON.stringify({ error: { code: 2, msg: 'Invalid JSON' } }));
      }
      const set = subs.get(ws)!;
      if (msg.method === 'SUBSCRIBE') for (const p of msg.params ?? []) set.add(p);
      else if (msg.method === 'UNSUBSCRIBE') for (const p of msg.params ?? []) set.delete(p);
      ws.send(
        JSON.stringify({ result: msg.method === 'LIST_SUBSCRIPTIONS' ? [...set] : null, id: msg.id ?? null }),
      );
    });
    ws.on('close', () => subs.delete(ws));
  });

  // Push the liquidations that happened since the last push.
  let pushedUntil = now();
  const timer = setInterval(() => {
    const to = now();
    const from = pushedUntil;
    pushedUntil = to;
    if (subs.size === 0) return;
    for (const sym of symbols) {
      if (silentSince.has(sym)) continue;
      const events = model.liquidations(sym, from, to);
      if (events.length === 0) continue;
      for (const [ws, set] of subs) {
        if (ws.readyState !== WebSocket.OPEN) continue;
        if (!set.has('!forceOrder@arr') && !set.has(`${sym.toLowerCase()}@forceOrder`)) continue;
        for (const e of events) {
          ws.send(JSON.stringify(forceOrderEvent(sym, e, to)));
          pushed.inc({ kind: 'forceOrder' });
        }
      }
    }
  }, o.liquidationPushMs);

  await new Promise<void>((resolve) => server.listen(o.port, o.host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${o.host}:${port}`,
    port,
    model,
    symbols,
    close: async () => {
      clearInterval(timer);
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Missing candles at a deterministic fraction of (symbol, minute), never a day's first minute. */
export function missingCandles(seed: number, rate: number): (symbol: string, openTime: number) => boolean {
  return (symbol, t) => t % 86_400_000 !== 0 && hash32(seed, symbol, 'missing', t) / 4_294_967_296 < rate;
}
