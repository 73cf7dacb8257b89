/**
 * Exchanges perpflow knows (ccxt ids). A record naming any other exchange is a
 * contract violation: it would open an unbounded label set and an unknown S3 prefix.
 */
export const EXCHANGES = ['binanceusdm', 'bybit', 'okx'] as const;
export type ExchangeId = (typeof EXCHANGES)[number];

/**
 * ccxt's unified symbol for a linear/inverse perpetual or future:
 * `BASE/QUOTE:SETTLE`, optionally `-YYMMDD` for dated futures. Upper-case
 * letters and digits only, so nothing in a symbol can form a path (`..`, `/x`).
 */
export const UNIFIED_SYMBOL_PATTERN = /^[A-Z0-9]{1,24}\/[A-Z0-9]{1,12}:[A-Z0-9]{1,12}(-[0-9]{6})?$/;
export const SYMBOL_MAX_LENGTH = 64;

export function isUnifiedSymbol(value: string): boolean {
  return value.length <= SYMBOL_MAX_LENGTH && UNIFIED_SYMBOL_PATTERN.test(value);
}
