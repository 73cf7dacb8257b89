// @20minutes/s3rver 4.0.4 ships no type declarations; this covers the part the launcher uses.
declare module '@20minutes/s3rver' {
  interface BucketConfig {
    name: string;
    configs: string[];
  }
  interface S3rverOptions {
    port?: number;
    address?: string;
    directory: string;
    silent?: boolean;
    allowMismatchedSignatures?: boolean;
    configureBuckets?: BucketConfig[];
  }
  export default class S3rver {
    constructor(options: S3rverOptions);
    run(): Promise<{ address: string; port: number }>;
    /** Set once run() resolved. */
    httpServer?: import('node:http').Server;
    close(): Promise<void>;
  }
}
