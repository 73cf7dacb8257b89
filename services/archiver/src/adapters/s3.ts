import type { ObjectStore as SharedObjectStore } from '@perpflow/s3';

/**
 * What the archiver needs of an object store: put, get (null: no such key) and list (only
 * to rebuild an unreadable index). Main gives it the shared S3ObjectStore of @perpflow/s3,
 * every request timed (TimedObjectStore).
 */
export type ObjectStore = Pick<SharedObjectStore, 'put' | 'get' | 'list'>;
