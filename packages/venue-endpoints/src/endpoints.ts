/**
 * Points a ccxt exchange at another host (the local simulator, a proxy) without
 * changing ccxt: every URL in `exchange.urls.api` becomes
 * `<base>/<original host><original path>`, `http(s)` → restBaseUrl and `ws(s)` →
 * wsBaseUrl. Keeping the original host as the first path segment keeps
 * `fapi.binance.com/futures/data` and `dapi.binance.com/futures/data` apart.
 * Bybit's `{hostname}` placeholder is filled from the exchange's `hostname`.
 */
export interface EndpointBases {
  restBaseUrl: string;
  wsBaseUrl: string;
}

export function rewriteUrl(url: string, bases: EndpointBases, hostname: string): string {
  const m = /^(https?|wss?):\/\/([^/]+)(.*)$/.exec(url.replaceAll('{hostname}', hostname));
  if (!m) return url;
  const [, scheme, host, rest] = m;
  const base = scheme!.startsWith('ws') ? bases.wsBaseUrl : bases.restBaseUrl;
  return `${base.replace(/\/$/, '')}/${host!.replace(/:\d+$/, '')}${rest}`;
}

function rewriteTree(node: unknown, bases: EndpointBases, hostname: string): unknown {
  if (typeof node === 'string') return rewriteUrl(node, bases, hostname);
  if (node && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) out[k] = rewriteTree(v, bases, hostname);
    return out;
  }
  return node;
}

export function pointExchangeAt(
  ex: { urls: { api: unknown }; hostname?: string | undefined },
  bases: EndpointBases,
): void {
  ex.urls.api = rewriteTree(ex.urls.api, bases, ex.hostname ?? '');
}
