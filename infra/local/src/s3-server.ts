/**
 * The stack's S3-compatible server: @20minutes/s3rver on loopback, storing objects as
 * files under <dir>, creating <bucket> on start (an existing bucket keeps its objects).
 * Usage: node --openssl-legacy-provider --import tsx infra/local/src/s3-server.ts <port> <dir> <bucket>
 *   --openssl-legacy-provider: s3rver encrypts ListObjectsV2 continuation tokens with DES,
 *     which OpenSSL 3 refuses otherwise (every truncated page would be a 500).
 *   allowMismatchedSignatures: 4.0.4 rejects the SDK's CreateBucket signature without it.
 */
import S3rver from '@20minutes/s3rver';

const KEEP_ALIVE_MS = 65_000;

const [port = '39000', directory = '.data/s3', bucket = 'perpflow'] = process.argv.slice(2);
const server = new S3rver({
  port: Number(port),
  address: '127.0.0.1',
  directory,
  silent: process.env.S3_SERVER_VERBOSE !== '1',
  allowMismatchedSignatures: true,
  configureBuckets: [{ name: bucket, configs: [] }],
});
await server.run();
// Node's server closes an idle keep-alive connection after 5 s. A client about to reuse it
// then (its agent drops one a second before the server's Keep-Alive hint, so a client whose
// event loop lags more than that under load) gets ECONNRESET or "socket hang up": fresh CI
// runs saw both, on a GET of `perpflow pull` and on a PUT of a test fixture. 65 s, with the
// headers timeout above it, as an HTTP load balancer's idle timeout is set longer than its
// clients'.
if (server.httpServer) {
  server.httpServer.keepAliveTimeout = KEEP_ALIVE_MS;
  server.httpServer.headersTimeout = KEEP_ALIVE_MS + 1_000;
}
console.log(`s3rver listening on 127.0.0.1:${port}, bucket ${bucket}, objects in ${directory}`);
const stop = async (signal: string) => {
  console.log(`s3rver: ${signal}, closing`);
  await server.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop('SIGTERM'));
process.once('SIGINT', () => void stop('SIGINT'));
