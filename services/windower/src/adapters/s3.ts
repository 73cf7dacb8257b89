// The object store moved to @perpflow/s3 (the aligner's reprocess writes the same trees).
export {
  checkS3Credentials,
  createS3Client,
  type FolderLister,
  type ObjectStore,
  COMMAND_MAX_ATTEMPTS,
  type S3Config,
  S3ObjectStore,
  s3ConfigShape,
} from '@perpflow/s3';
