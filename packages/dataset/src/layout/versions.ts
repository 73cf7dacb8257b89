import { MAX_EPOCH_MS, MIN_EPOCH_MS, SCHEMA_VERSION } from '@perpflow/contracts';
import { z } from 'zod';
import { sha256Hex } from '../hash.js';
import { assertKeyUnderPrefix, normalizePrefix } from './keys.js';
import { InvalidKeySegment } from './symbol.js';

/**
 * Dataset versions. A version is named by everything that decides the content of the
 * aligned rows: the AlignedBar contract version, the quality config, the align config
 * (without its timeframe: that is a partition column of every tree) and the engine's
 * code version. Two runs with equal descriptors produce the same rows from the same raw
 * records; any difference gives another id.
 *
 *   <prefix>/versions/<id>/version.json     the descriptor (immutable, content-addressed)
 *   <prefix>/versions/<id>/aligned/v1/...   a version's own tree (same layout as the live one)
 *
 * The live tree `<prefix>/aligned/v1/...` keeps today's paths and holds one version: the
 * first one its windower wrote, named in `<prefix>/versions/live.json` (the pin). Bars of
 * another version are never written into it (the windower dead-letters them, rule
 * windower.version); a tree written before versions existed has no pin until its first
 * versioned bar.
 */
export interface VersionDescriptor {
  /** AlignedBar contract version. */
  schemaVersion: number;
  /** The code that decides rows: packages/quality and packages/align versions. */
  engineVersion: string;
  /** The parsed quality config, every default filled. */
  quality: unknown;
  /** The parsed align config without `timeframe`, every default filled. */
  align: unknown;
}

/** `dv-` and 16 hex digits: the first 64 bits of the descriptor's canonical sha256. */
export const VERSION_ID = /^dv-[0-9a-f]{16}$/;

/** JSON with object keys sorted at every depth: equal values give equal text. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  if (typeof v === 'number' && !Number.isFinite(v)) throw new TypeError(`not a JSON number: ${v}`);
  return JSON.stringify(v);
}

/** Builds a descriptor for the current contract version; `align.timeframe` is dropped. */
export function versionDescriptor(input: {
  engineVersion: string;
  quality: unknown;
  align: Record<string, unknown>;
}): VersionDescriptor {
  const { timeframe: _tf, ...align } = input.align;
  return { schemaVersion: SCHEMA_VERSION, engineVersion: input.engineVersion, quality: input.quality, align };
}

/** The version id of a descriptor. */
export function datasetVersionId(d: VersionDescriptor): string {
  return `dv-${sha256Hex(canonicalJson(d)).slice(0, 16)}`;
}

export function assertVersionId(id: string): string {
  if (!VERSION_ID.test(id))
    throw new InvalidKeySegment(`invalid dataset version '${id}': expected dv- and 16 lower-case hex digits`);
  return id;
}

/** The prefix a version's own tree lies under: every layout function takes it as its prefix. */
export function versionPrefix(prefix: string, id: string): string {
  const p = normalizePrefix(prefix);
  return assertKeyUnderPrefix(p, `${p}/versions/${assertVersionId(id)}`);
}

/** Where a version's descriptor is written. */
export function versionDescriptorKey(prefix: string, id: string): string {
  return `${versionPrefix(prefix, id)}/version.json`;
}

/** The folder holding every version (ends with `/`), to list them. */
export function versionsFolder(prefix: string): string {
  return `${normalizePrefix(prefix)}/versions/`;
}

/** `<prefix>/versions/live.json`: which version the live tree `<prefix>/aligned/v1` holds. */
export const LiveVersionSchema = z.object({
  version: z.string().regex(VERSION_ID, 'must be dv- and 16 lower-case hex digits'),
  /** The writer's clock when it pinned the tree. */
  pinnedAtMs: z.number().int().min(MIN_EPOCH_MS).max(MAX_EPOCH_MS),
});
export type LiveVersion = z.infer<typeof LiveVersionSchema>;

export function liveVersionKey(prefix: string): string {
  return `${versionsFolder(prefix)}live.json`;
}

/** Parses a live.json's bytes (throws a ZodError naming the field). */
export function parseLiveVersion(bytes: Uint8Array | string): LiveVersion {
  const text = typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes);
  return LiveVersionSchema.parse(JSON.parse(text));
}
