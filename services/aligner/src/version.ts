import { ALIGN_ENGINE_VERSION } from '@perpflow/align';
import {
  canonicalJson,
  datasetVersionId,
  type VersionDescriptor,
  versionDescriptor,
} from '@perpflow/dataset';
import { QUALITY_ENGINE_VERSION } from '@perpflow/quality';
import type { EngineConfig } from './domain/engine.js';

/** The code versions that decide rows: a change to either rule engine's behaviour bumps its constant. */
export const ENGINE_VERSION = `${ALIGN_ENGINE_VERSION}; ${QUALITY_ENGINE_VERSION}`;

export interface DatasetVersion {
  /** `dv-` and 16 hex digits (packages/dataset layout/versions.ts). */
  id: string;
  descriptor: VersionDescriptor;
  /** The descriptor as written to S3: canonical JSON, so equal descriptors are equal bytes. */
  json: string;
}

/**
 * The dataset version the aligner's bars belong to: the quality config and align config it
 * runs (every default filled), the AlignedBar contract version and ENGINE_VERSION. Settings
 * that bound resources without changing rows (ALIGNER_MAX_STREAMS_PER_PARTITION, snapshot
 * intervals, Kafka and Redis settings) are not part of it; the timeframe is a partition
 * column of every tree, so it is not either.
 */
export function datasetVersionOf(engine: Pick<EngineConfig, 'quality' | 'align'>): DatasetVersion {
  const descriptor = versionDescriptor({
    engineVersion: ENGINE_VERSION,
    quality: engine.quality,
    align: engine.align as unknown as Record<string, unknown>,
  });
  return { id: datasetVersionId(descriptor), descriptor, json: `${canonicalJson(descriptor)}\n` };
}
