import { z } from 'zod';
import { CompactedManifestSchema, SeriesIndexSchema, WindowManifestSchema } from './schemas.js';

/** JSON Schema (draft 2020-12) of the manifest, index and compacted-month manifest files, for non-TypeScript readers. */
export function datasetJsonSchemas(): Record<
  'window_manifest' | 'series_index' | 'compacted_manifest',
  Record<string, unknown>
> {
  const of = (name: string, schema: z.ZodType) => ({
    ...z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }),
    $id: `https://perpflow.dev/schemas/${name}.v1.schema.json`,
    title: name,
  });
  return {
    window_manifest: of('window_manifest', WindowManifestSchema),
    series_index: of('series_index', SeriesIndexSchema),
    compacted_manifest: of('compacted_manifest', CompactedManifestSchema),
  };
}
