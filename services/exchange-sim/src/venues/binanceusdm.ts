import {
  DAY,
  FUNDING_INTERVAL,
  type Kline,
  type Liquidation,
  type MarketModel,
  MINUTE,
} from '../market/model.js';

/**
 * Binance USDⓈ-M Futures wire formats (REST under /fapi.binance.com, WebSocket
 * under /fstream.binance.com), as ccxt's binanceusdm reads them. Numbers are
 * strings where the venue sends strings. Each handler returns [status, body, weight].
 */
export type Query = URLSearchParams;
export interface VenueAnswer {
  status: number;
  body: unknown;
  weight: number;
}

const INTERVALS: Record<string, number> = {
  '1m': MINUTE,
  '5m': 5 * MINUTE,
  '15m': 15 * MINUTE,
  '1h': 60 * MINUTE,
};

export interface BinanceContext {
  model: MarketModel;
  symbols: readonly string[];
  now: () => number;
  /** Symbols whose data stops advancing at the given time (a silent feed). */
  silentSince: ReadonlyMap<string, number>;
  /** Open-interest history retention, like the venue's ~30 days. */
  oiHistoryRetentionMs: number;
  launchMs: number;
}

function err(status: number, code: number, msg: string): VenueAnswer {
  return { status, body: { code, msg }, weight: 1 };
}

/** The time a symbol's data has reached: now, or when it went silent. */
function horizon(ctx: BinanceContext, symbol: string): number {
  const silent = ctx.silentSince.get(symbol);
  return silent !== undefined ? Math.min(silent, ctx.now()) : ctx.now();
}

function klineRow(k: Kline, tfMs: number, now: number): unknown[] {
  return [
    k.openTime,
    s(k.open),
    s(k.high),
    s(k.low),
    s(k.close),
    s(k.volume),
    Math.min(k.openTime + tfMs - 1, now),
    s(k.quoteVolume),
    k.trades,
    s(k.volume / 2),
    s(k.quoteVolume / 2),
    '0',
  ];
}
const s = (x: number) => String(x);

/** The still-open candle as the venue shows it now: nothing from after now. */
function partial(ctx: BinanceContext, symbol: string, k: Kline, tfMs: number): Kline {
  const now = ctx.now();
  const close = ctx.model.priceAt(symbol, now);
  const f = Math.max(0, Math.min(1, (now - k.openTime) / tfMs));
  return {
    ...k,
    close,
    high: Math.max(k.open, close),
    low: Math.min(k.open, close),
    volume: Math.round(k.volume * f * 1000) / 1000,
    quoteVolume: Math.round(k.quoteVolume * f * 100) / 100,
    trades: Math.floor(k.trades * f),
  };
}

/** Aggregates 1m klines into a coarser interval. */
function aggregate(ks: Kline[], openTime: number): Kline | null {
  if (ks.length === 0) return null;
  return {
    openTime,
    open: ks[0]!.open,
    high: Math.max(...ks.map((k) => k.high)),
    low: Math.min(...ks.map((k) => k.low)),
    close: ks.at(-1)!.close,
    volume: Math.round(ks.reduce((a, k) => a + k.volume, 0) * 1000) / 1000,
    quoteVolume: Math.round(ks.reduce((a, k) => a + k.quoteVolume, 0) * 100) / 100,
    trades: ks.reduce((a, k) => a + k.trades, 0),
  };
}

export function binanceRest(ctx: BinanceContext, path: string, q: Query): VenueAnswer {
  const symbol = q.get('symbol') ?? '';
  const known = (sym: string) => ctx.symbols.includes(sym);
  switch (path) {
    case '/fapi/v1/ping':
      return { status: 200, body: {}, weight: 1 };
    case '/fapi/v1/time':
      return { status: 200, body: { serverTime: ctx.now() }, weight: 1 };
    case '/fapi/v1/exchangeInfo':
      return { status: 200, body: exchangeInfo(ctx), weight: 1 };
    case '/fapi/v1/klines': {
      if (!known(symbol)) return err(400, -1121, 'Invalid symbol.');
      const tf = INTERVALS[q.get('interval') ?? ''];
      if (!tf) return err(400, -1120, 'Invalid interval.');
      const limit = Math.min(Number(q.get('limit') ?? 500), 1500);
      if (!(limit > 0)) return err(400, -1100, "Illegal characters found in parameter 'limit'.");
      const end = Math.min(Number(q.get('endTime') ?? Number.POSITIVE_INFINITY), horizon(ctx, symbol));
      const startParam = q.get('startTime');
      let start = startParam !== null ? Number(startParam) : Math.floor(end / tf) * tf - (limit - 1) * tf;
      start = Math.max(Math.ceil(start / tf) * tf, ctx.launchMs);
      const rows: unknown[] = [];
      for (let t = start; t <= end && rows.length < limit; t += tf) {
        const k =
          tf === MINUTE
            ? ctx.model.kline(symbol, t)
            : aggregate(ctx.model.klines(symbol, t, t + tf, tf / MINUTE), t);
        if (k) rows.push(klineRow(t + tf > ctx.now() ? partial(ctx, symbol, k, tf) : k, tf, ctx.now()));
      }
      return { status: 200, body: rows, weight: limit < 100 ? 1 : limit < 500 ? 2 : limit <= 1000 ? 5 : 10 };
    }
    case '/fapi/v1/openInterest': {
      if (!known(symbol)) return err(400, -1121, 'Invalid symbol.');
      const t = horizon(ctx, symbol);
      return {
        status: 200,
        body: { openInterest: s(ctx.model.openInterest(symbol, t)), symbol, time: t },
        weight: 1,
      };
    }
    case '/futures/data/openInterestHist': {
      if (!known(symbol)) return err(400, -1121, 'Invalid symbol.');
      const period = INTERVALS[q.get('period') ?? ''];
      if (!period || period < 5 * MINUTE) return err(400, -1130, 'Invalid period.');
      const limit = Math.min(Number(q.get('limit') ?? 30), 500);
      const end = Math.min(Number(q.get('endTime') ?? Number.POSITIVE_INFINITY), horizon(ctx, symbol));
      const oldest = Math.max(ctx.now() - ctx.oiHistoryRetentionMs, ctx.launchMs);
      const startParam = q.get('startTime');
      let start = startParam !== null ? Number(startParam) : end - (limit - 1) * period;
      start = Math.ceil(Math.max(start, oldest) / period) * period;
      const rows = [];
      for (let t = start; t <= end && rows.length < limit; t += period) {
        const oi = ctx.model.openInterest(symbol, t);
        rows.push({
          symbol,
          sumOpenInterest: s(oi),
          sumOpenInterestValue: s(Math.round(oi * ctx.model.priceAt(symbol, t) * 100) / 100),
          timestamp: t,
        });
      }
      return { status: 200, body: rows, weight: 1 };
    }
    case '/fapi/v1/premiumIndex': {
      const list = symbol ? (known(symbol) ? [symbol] : null) : ctx.symbols;
      if (!list) return err(400, -1121, 'Invalid symbol.');
      const rows = list.map((sym) => premiumIndex(ctx, sym));
      return { status: 200, body: symbol ? rows[0] : rows, weight: symbol ? 1 : 10 };
    }
    case '/fapi/v1/fundingRate': {
      if (!known(symbol)) return err(400, -1121, 'Invalid symbol.');
      const limit = Math.min(Number(q.get('limit') ?? 100), 1000);
      const end = Math.min(Number(q.get('endTime') ?? Number.POSITIVE_INFINITY), horizon(ctx, symbol));
      const startParam = q.get('startTime');
      let start = startParam !== null ? Number(startParam) : end - (limit - 1) * FUNDING_INTERVAL;
      start = Math.ceil(Math.max(start, ctx.launchMs) / FUNDING_INTERVAL) * FUNDING_INTERVAL;
      const rows = [];
      for (let t = start; t <= end && rows.length < limit; t += FUNDING_INTERVAL)
        rows.push({
          symbol,
          fundingTime: t,
          fundingRate: ctx.model.fundingRate(symbol, t).toFixed(8),
          markPrice: s(ctx.model.priceAt(symbol, t)),
        });
      return { status: 200, body: rows, weight: 1 };
    }
    default:
      return err(404, -5000, `path ${path} is not served by the simulator`);
  }
}

function premiumIndex(ctx: BinanceContext, symbol: string) {
  const t = horizon(ctx, symbol);
  const next = Math.floor(t / FUNDING_INTERVAL) * FUNDING_INTERVAL + FUNDING_INTERVAL;
  const mark = ctx.model.priceAt(symbol, t);
  return {
    symbol,
    markPrice: s(mark),
    indexPrice: s(Math.round(mark * 0.9999 * 100) / 100),
    estimatedSettlePrice: s(mark),
    lastFundingRate: ctx.model.fundingRate(symbol, next).toFixed(8),
    interestRate: '0.00010000',
    nextFundingTime: next,
    time: t,
  };
}

function exchangeInfo(ctx: BinanceContext) {
  return {
    timezone: 'UTC',
    serverTime: ctx.now(),
    futuresType: 'U_MARGINED',
    rateLimits: [
      { rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 2400 },
      { rateLimitType: 'ORDERS', interval: 'MINUTE', intervalNum: 1, limit: 1200 },
    ],
    exchangeFilters: [],
    assets: [{ asset: 'USDT', marginAvailable: true, autoAssetExchange: '-10000' }],
    symbols: ctx.symbols.map((id) => {
      const base = id.replace(/USDT$/, '');
      const p = ctx.model.basePrice(id);
      const tick = p >= 100 ? '0.10' : p >= 1 ? '0.0001' : '0.0000001';
      return {
        symbol: id,
        pair: id,
        contractType: 'PERPETUAL',
        deliveryDate: 4_133_404_800_000,
        onboardDate: ctx.launchMs,
        status: 'TRADING',
        maintMarginPercent: '2.5000',
        requiredMarginPercent: '5.0000',
        baseAsset: base,
        quoteAsset: 'USDT',
        marginAsset: 'USDT',
        pricePrecision: 4,
        quantityPrecision: 3,
        baseAssetPrecision: 8,
        quotePrecision: 8,
        underlyingType: 'COIN',
        underlyingSubType: [],
        triggerProtect: '0.0500',
        liquidationFee: '0.012500',
        marketTakeBound: '0.05',
        maxMoveOrderLimit: 10000,
        filters: [
          { filterType: 'PRICE_FILTER', minPrice: tick, maxPrice: '10000000', tickSize: tick },
          { filterType: 'LOT_SIZE', stepSize: '0.001', maxQty: '1000000', minQty: '0.001' },
          { filterType: 'MARKET_LOT_SIZE', stepSize: '0.001', maxQty: '100000', minQty: '0.001' },
          { filterType: 'MAX_NUM_ORDERS', limit: 200 },
          { filterType: 'MIN_NOTIONAL', notional: '5' },
          {
            filterType: 'PERCENT_PRICE',
            multiplierUp: '1.0500',
            multiplierDown: '0.9500',
            multiplierDecimal: '4',
          },
        ],
        orderTypes: ['LIMIT', 'MARKET'],
        timeInForce: ['GTC', 'IOC', 'FOK', 'GTX'],
      };
    }),
  };
}

/** A `forceOrder` stream event as the venue pushes it. */
export function forceOrderEvent(symbol: string, l: Liquidation, eventTime: number) {
  return {
    e: 'forceOrder',
    E: eventTime,
    o: {
      s: symbol,
      S: l.side,
      o: 'LIMIT',
      f: 'IOC',
      q: s(l.qty),
      p: s(l.price),
      ap: s(l.price),
      X: 'FILLED',
      l: s(l.qty),
      z: s(l.qty),
      T: l.time,
    },
  };
}

export const SIM_DAY = DAY;
