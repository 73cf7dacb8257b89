/**
 * Ground truth for ingest tests: the 1m candles the simulator serves (Binance
 * USDⓈ-M format) for one symbol id in [fromMs, toMs], as [openTime, o, h, l, c, v].
 */
export async function simKlines(
  simUrl: string,
  id: string,
  fromMs: number,
  toMs: number,
): Promise<number[][]> {
  const out: number[][] = [];
  for (let since = fromMs; since <= toMs; ) {
    const rows = (await (
      await fetch(
        `${simUrl}/fapi.binance.com/fapi/v1/klines?symbol=${id}&interval=1m&startTime=${since}&endTime=${toMs}&limit=1500`,
      )
    ).json()) as unknown[][];
    if (rows.length === 0) break;
    for (const r of rows)
      out.push([Number(r[0]), Number(r[1]), Number(r[2]), Number(r[3]), Number(r[4]), Number(r[5])]);
    since = Number(rows.at(-1)?.[0]) + 60_000;
  }
  return out;
}
