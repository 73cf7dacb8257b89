import type { WebSocket } from 'ws';
import type { FaultInjector } from '../faults/faults.js';
import type { MarketModel } from '../market/model.js';
import type { Candle, LiquidationEvent } from '../market/types.js';
import type { Topic, Venue, VenueContext } from '../venues/types.js';

/** One websocket client and what it subscribed to. */
export interface StreamClient {
  id: string;
  venue: Venue;
  socket: WebSocket;
  topics: Map<string, Topic>;
  /** Opened as a combined stream: every message goes out as {"stream": <name>, "data": <message>}. */
  combined?: boolean;
}

/** A combined-stream envelope around an already serialized message. */
function wrap(client: StreamClient, topic: Topic, msg: string): string {
  return client.combined ? `{"stream":${JSON.stringify(topic.raw)},"data":${msg}}` : msg;
}

interface KlineCursor {
  /** Open time of the last closed candle pushed (or skipped as missing). */
  lastClosedMs: number;
  /** A closed candle held back by an out-of-order fault, sent after the next one. */
  held?: Candle;
}

export interface StreamEngineOptions {
  model: MarketModel;
  faults: FaultInjector;
  context: () => VenueContext;
  /** Wall milliseconds between pushes. */
  pushIntervalMs: number;
  onMessages?: (venue: string, channel: 'kline' | 'liquidation', n: number) => void;
}

/** At most this many closed candles are caught up per topic per tick (after a pause, a client gets the recent ones). */
const MAX_CATCH_UP = 5;

/**
 * Pushes kline updates (open candle + each closed one with its final values)
 * and liquidations to subscribed clients on a timer. Messages for a topic are
 * built once per tick and shared by every client subscribed to it.
 */
export class StreamEngine {
  readonly clients = new Set<StreamClient>();
  private readonly cursors = new WeakMap<StreamClient, Map<string, KlineCursor>>();
  private lastLiquidationMs: number | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: StreamEngineOptions) {}

  start(): void {
    this.lastLiquidationMs = wholeSecond(this.o.context().nowMs);
    this.timer = setInterval(() => this.tick(), this.o.pushIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  add(client: StreamClient): void {
    this.clients.add(client);
    this.cursors.set(client, new Map());
  }

  remove(client: StreamClient): void {
    this.clients.delete(client);
  }

  subscribe(client: StreamClient, topics: Topic[]): void {
    for (const t of topics) client.topics.set(t.raw, t);
  }

  unsubscribe(client: StreamClient, topics: Topic[]): void {
    for (const t of topics) {
      client.topics.delete(t.raw);
      this.cursors.get(client)?.delete(t.raw);
    }
  }

  tick(): void {
    if (this.clients.size === 0) {
      this.lastLiquidationMs = wholeSecond(this.o.context().nowMs);
      return;
    }
    const ctx = this.o.context();
    const now = ctx.nowMs;
    // Liquidations of whole seconds of event time only: a venue that pushes one per
    // symbol per second never sees a second split across two pushes.
    const upTo = wholeSecond(now);
    const from = this.lastLiquidationMs ?? upTo;
    this.lastLiquidationMs = upTo;
    const liquidations = this.collectLiquidations(from, upTo);
    const shared = new Map<string, string>();
    for (const client of this.clients) {
      if (client.socket.readyState !== 1) continue;
      const venue = client.venue;
      let klines = 0;
      let liqs = 0;
      for (const topic of client.topics.values()) {
        if (topic.kind === 'kline') {
          for (const msg of this.klineUpdates(client, topic, ctx, shared)) {
            client.socket.send(wrap(client, topic, msg));
            klines++;
          }
        } else {
          const events =
            topic.symbol === '*' ? liquidations.all : (liquidations.bySymbol.get(topic.symbol) ?? []);
          if (events.length === 0) continue;
          const key = `${venue.id}|${topic.raw}`;
          let msgs = shared.get(key);
          if (msgs === undefined) {
            const perSymbol = venue.perSymbolLiquidationTopic;
            const built =
              topic.symbol === '*' && perSymbol
                ? [...liquidations.bySymbol.entries()].flatMap(([symbol, evs]) =>
                    venue.liquidationMessages({ ...topic, symbol, raw: perSymbol(symbol) }, evs, now, ctx),
                  )
                : venue.liquidationMessages(topic, events, now, ctx);
            msgs = built.join('\u0000');
            shared.set(key, msgs);
          }
          for (const m of msgs.split('\u0000')) {
            client.socket.send(wrap(client, topic, m));
            liqs++;
          }
        }
      }
      if (klines) this.o.onMessages?.(venue.id, 'kline', klines);
      if (liqs) this.o.onMessages?.(venue.id, 'liquidation', liqs);
    }
  }

  private collectLiquidations(
    fromMs: number,
    toMs: number,
  ): { all: LiquidationEvent[]; bySymbol: Map<string, LiquidationEvent[]> } {
    const wanted = new Set<string>();
    let everything = false;
    for (const c of this.clients)
      for (const t of c.topics.values())
        if (t.kind === 'liquidation') {
          if (t.symbol === '*') everything = true;
          else wanted.add(t.symbol);
        }
    const bySymbol = new Map<string, LiquidationEvent[]>();
    if (!everything && wanted.size === 0) return { all: [], bySymbol };
    const events = everything
      ? this.o.model.allLiquidations(fromMs, toMs)
      : [...wanted].flatMap((s) => this.o.model.liquidations(s, fromMs, toMs));
    const all = events.filter((ev) => !this.o.faults.isSilent(ev.symbol, ev.timeMs));
    for (const ev of all) {
      const list = bySymbol.get(ev.symbol);
      if (list) list.push(ev);
      else bySymbol.set(ev.symbol, [ev]);
    }
    return { all, bySymbol };
  }

  private klineUpdates(
    client: StreamClient,
    topic: Topic & { kind: 'kline' },
    ctx: VenueContext,
    shared: Map<string, string>,
  ): string[] {
    const { model, faults } = this.o;
    const venue = client.venue;
    if (faults.isSilent(topic.symbol, ctx.nowMs)) return [];
    const now = ctx.nowMs;
    const iv = topic.intervalMs;
    const openStart = Math.floor(now / iv) * iv;
    const cursors = this.cursors.get(client) as Map<string, KlineCursor>;
    let cur = cursors.get(topic.raw);
    if (!cur) {
      cur = { lastClosedMs: openStart - iv };
      cursors.set(topic.raw, cur);
    }
    const out: string[] = [];
    const firstToClose = Math.max(cur.lastClosedMs + iv, openStart - MAX_CATCH_UP * iv);
    for (let t = firstToClose; t < openStart; t += iv) {
      cur.lastClosedMs = t;
      if (iv === 60_000 && model.isMissingCandle(topic.symbol, t)) continue;
      const [candle] = model.candles(topic.symbol, iv, t, t);
      if (!candle) continue;
      const msg = venue.klineMessage(topic, candle, true, now, ctx);
      const fault = faults.wsCandleFault(venue.id);
      if (fault === 'hold' && !cur.held) {
        cur.held = candle;
        continue;
      }
      out.push(msg);
      if (fault === 'duplicate') out.push(msg);
      if (cur.held) {
        out.push(venue.klineMessage(topic, cur.held, true, now, ctx));
        cur.held = undefined;
      }
    }
    if (!(iv === 60_000 && model.isMissingCandle(topic.symbol, openStart))) {
      const key = `${venue.id}|${topic.raw}|open`;
      let msg = shared.get(key);
      if (msg === undefined) {
        msg = venue.klineMessage(
          topic,
          model.partialCandle(topic.symbol, iv, openStart, now),
          false,
          now,
          ctx,
        );
        shared.set(key, msg);
      }
      out.push(msg);
    }
    return out;
  }
}

const wholeSecond = (ms: number): number => Math.floor(ms / 1000) * 1000;
