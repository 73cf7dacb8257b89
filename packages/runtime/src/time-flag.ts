/** Times given on a command line. */
const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|([+-])(\d{2}):(\d{2})))?$/;

/**
 * A time flag: epoch ms, a UTC date, or an ISO time with its zone. Every calendar
 * field is checked (Date.parse reads 2024-02-30 as 1 March and a time without a
 * zone as local time).
 */
export function parseTimeText(
  flag: string,
  v: string,
  makeError: (message: string) => Error = (m) => new Error(m),
): number {
  const fail = (why: string) =>
    makeError(
      `--${flag} ${v}: ${why}; give a date (YYYY-MM-DD), an ISO time with zone (2024-03-01T12:00:00Z) or epoch ms`,
    );
  if (/^\d+$/.test(v)) {
    const ms = Number(v);
    if (!Number.isSafeInteger(ms)) throw fail('too large for epoch ms');
    return ms;
  }
  const m = ISO_TIME.exec(v);
  if (!m) throw fail(/^\d{4}-\d{2}-\d{2}T[^Z+-]*$/.test(v) ? 'no zone (add Z for UTC)' : 'not a time');
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((x) => Number(x ?? 0));
  const daysInMonth = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  if (month! < 1 || month! > 12) throw fail(`no month ${m[2]}`);
  if (day! < 1 || day! > daysInMonth)
    throw fail(`no day ${m[3]} in ${m[1]}-${m[2]} (it has ${daysInMonth} days)`);
  if (hour > 23 || minute > 59 || second > 59) throw fail('hour must be 00-23, minutes and seconds 00-59');
  const millis = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  let offsetMin = 0;
  if (m[9]) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) throw fail(`no zone offset ${m[9]}${m[10]}:${m[11]}`);
    offsetMin = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const utc = new Date(0);
  utc.setUTCFullYear(year!, month! - 1, day!); // Date.UTC maps years 0-99 to 1900-1999
  utc.setUTCHours(hour, minute, second, millis);
  return utc.getTime() - offsetMin * 60_000;
}
