/**
 * Points an unmodified ccxt (pro) exchange at another host: every URL in
 * `exchange.urls.api` (nested maps included) becomes
 * `<base>/<original host><original path>`, where `http(s)` URLs take
 * `restBaseUrl` and `ws(s)` URLs take `wsBaseUrl`. Keeping the original host as
 * the first path segment keeps `fapi.binance.com/futures/data` apart from
 * `dapi.binance.com/futures/data`, and lets one server answer for several venues.
 */
export interface EndpointBases {
  /** e.g. `http://127.0.0.1:39200` (no trailing slash needed). */
  restBaseUrl: string;
  /** e.g. `ws://127.0.0.1:39200`. */
  wsBaseUrl: string;
}

/** The parts of a ccxt exchange this package touches (ccxt's own types are wider). */
export interface PointableExchange {
  urls: { api?: unknown };
  /** Bybit (and others) fill `{hostname}` placeholders from this option. */
  hostname?: string | undefined;
  /** ccxt refuses plain `ws://` URLs until this has been awaited once. */
  loadHttpProxyAgent?: () => Promise<unknown>;
}

const URL_RE = /^(https?|wss?):\/\/([^/?#]+)(.*)$/;

/** Rewrites one URL; anything that is not an http(s)/ws(s) URL comes back unchanged. */
export function rewriteUrl(url: string, bases: EndpointBases, hostname = ''): string {
  const m = URL_RE.exec(url.replaceAll('{hostname}', hostname));
  if (!m) return url;
  const scheme = m[1] ?? '';
  const host = (m[2] ?? '').replace(/:\d+$/, '');
  const base = (scheme.startsWith('ws') ? bases.wsBaseUrl : bases.restBaseUrl).replace(/\/+$/, '');
  return `${base}/${host}${m[3] ?? ''}`;
}

function rewriteTree(node: unknown, bases: EndpointBases, hostname: string): unknown {
  if (typeof node === 'string') return rewriteUrl(node, bases, hostname);
  if (Array.isArray(node)) return node.map((v) => rewriteTree(v, bases, hostname));
  if (node !== null && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) out[k] = rewriteTree(v, bases, hostname);
    return out;
  }
  return node;
}

/** Rewrites the URLs only (synchronous); use `pointExchangeAt` unless you know ws:// is not involved. */
export function rewriteExchangeUrls(ex: PointableExchange, bases: EndpointBases): void {
  ex.urls.api = rewriteTree(ex.urls.api, bases, ex.hostname ?? '');
}

/**
 * Rewrites the exchange's REST and WS URLs to the given bases and, when the WS
 * base is plain `ws://`, loads ccxt's http agent (ccxt raises NotSupported on a
 * `ws://` URL otherwise). Call it before the first request.
 */
export async function pointExchangeAt(ex: PointableExchange, bases: EndpointBases): Promise<void> {
  rewriteExchangeUrls(ex, bases);
  if (/^ws:\/\//i.test(bases.wsBaseUrl) && typeof ex.loadHttpProxyAgent === 'function') {
    await ex.loadHttpProxyAgent();
  }
}
