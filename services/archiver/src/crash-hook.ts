/** The steps of one flush, in order; ARCHIVER_CRASH_AT may stop the process at any of them. */
export type FlushStep =
  | 'after-ledger-put'
  | 'after-object-put'
  | 'after-manifest-put'
  | 'after-index-put'
  | 'after-commit';
