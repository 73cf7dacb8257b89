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
