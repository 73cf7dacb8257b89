/** Written into every file's metadata and every manifest. Bump when the bytes written change. */
export const DATASET_WRITER_VERSION = '@perpflow/dataset 0.2.0';
