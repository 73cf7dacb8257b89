/**
 * V8 flags every perpflow service process starts with, whoever launches it (the
 * services' `npm start`, scripts/demo.sh, the test harness, the bench, the image).
 *
 * `--max-semi-space-size=16`: on a machine with this much memory Node 24 lets the
 * young generation's semi-spaces grow to 64 MB, and a service that allocates steadily
 * keeps them there: exchange-ingest with 500 live symbols had a 134 MB new space in a
 * 287 MB RSS, and 204 MB RSS with the flag (measured 2026-12-04, see
 * docs/BENCHMARKS.md, "Young generation"). Scavenges get more frequent; each costs in
 * proportion to the objects that survive it, not to the space.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];

/**
 * A service's own V8 flags, after SERVICE_NODE_FLAGS (V8 takes the last value of a flag).
 *
 * archiver, `--max-semi-space-size=4`: what it allocates is mostly the records it holds
 * until their object is written, which outlive any young generation; in a catch-up of 1M
 * raw records (three runs each, alternated) its peak RSS was 359–402 MiB with a 4 MiB young
 * generation against 401–410 with 16, at 59.0–69.2k against 55.1–64.3k records/s
 * (docs/BENCHMARKS.md, "What a buffered record costs the archiver").
 *
 * exchange-ingest, `--max-semi-space-size=4`: what it allocates is mostly the venues' answers
 * parsed and the records made of them, short-lived; in a backfill of 100 symbols × 3 days
 * (two runs each, alternated) its peak RSS was 264–268 MiB with a 4 MiB young generation
 * against 295–297 with 16, for 7.3–7.5 CPU-s against 6.8–6.9 (the backfill's rate the same,
 * 14.6–15.2k bars/s; docs/BENCHMARKS.md, "The ingest's young generation").
 */
export const SERVICE_OWN_NODE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  archiver: ['--max-semi-space-size=4'],
  'exchange-ingest': ['--max-semi-space-size=4'],
};

/** Every V8 flag a service (its directory name under services/) starts with. */
export function serviceNodeFlags(service: string): string[] {
  return [...SERVICE_NODE_FLAGS, ...(SERVICE_OWN_NODE_FLAGS[service] ?? [])];
}

/**
 * glibc malloc settings every perpflow service process starts with (environment, read
 * when the process starts; the launchers above set them, a value already in the
 * environment wins where a launcher can say so).
 *
 * `MALLOC_ARENA_MAX=2`: glibc gives threads up to 8 arenas per core, each keeping memory
 * it freed. `MALLOC_MMAP_THRESHOLD_=131072`: a block of 128 KiB or more (Kafka fetch
 * responses, batch buffers) is mapped on its own and returned when freed; by default glibc
 * raises this threshold after each such block is freed, and later blocks of that size come
 * from the arenas and stay there. The aligner's catch-up of 1M raw records (500 symbols):
 * peak RSS 572 and 584 MiB with both against 611 and 669 MiB without, at the same records per
 * CPU-second (docs/BENCHMARKS.md). Without effect on other C libraries. Measured and not
 * taken (docs/BENCHMARKS.md, "Where the aligner's memory is in a catch-up, by mapping"): a
 * 32 KiB threshold saved 20–65 MiB of that peak for 9–22 % of the records per CPU-second;
 * jemalloc in glibc's place bought neither.
 */
export const SERVICE_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
};
