// Container health: GET a readiness URL, exit 0 on 2xx and 1 otherwise. No dependencies.
//   node /app/healthcheck.mjs [url]
// docker-compose.yml passes http://127.0.0.1:<METRICS_PORT>/readyz (test/e2e/compose.test.ts
// checks the port); without an argument (the image's own HEALTHCHECK) the port comes
// from METRICS_PORT, or PORT for the simulator.
const port = process.env.METRICS_PORT || process.env.PORT;
const url = process.argv[2] || (port ? `http://127.0.0.1:${port}/readyz` : '');
if (!url) {
  console.error('healthcheck: pass a URL or set METRICS_PORT (or PORT)');
  process.exit(1);
}
fetch(url, { signal: AbortSignal.timeout(2_500) })
  .then((r) => process.exit(r.ok ? 0 : 1))
  .catch(() => process.exit(1));
