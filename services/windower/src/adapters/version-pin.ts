import { liveVersionKey, parseLiveVersion } from '@perpflow/dataset';
import { retry } from '@perpflow/runtime';
import type { VersionPin } from '../pipeline.js';
import type { ObjectStore } from './s3.js';

/** The live tree's pin, `<prefix>/versions/live.json`, on S3. */
export class S3VersionPin implements VersionPin {
  constructor(
    private readonly store: ObjectStore,
    private readonly prefix: string,
    private readonly now: () => number,
  ) {}

  /** The pinned version, null when the tree has none; an unreadable pin stops start-up naming its key. */
  async read(): Promise<string | null> {
    const key = liveVersionKey(this.prefix);
    const raw = await retry(() => this.store.get(key), { retries: 5, maxDelayMs: 5_000 });
    if (raw === null) return null;
    try {
      return parseLiveVersion(raw).version;
    } catch (err) {
      throw new Error(
        `${key} is not a version pin (${(err as Error).message.slice(0, 200)}): restore it, or delete it to let the next versioned bar pin the tree`,
      );
    }
  }

  /**
   * Writes the pin unless it holds this version. Another version there (a second windower
   * pinned the tree first with bars of another aligner config) is an error, so this one
   * writes nothing into a tree of another version.
   */
  async pin(version: string): Promise<void> {
    const found = await this.read();
    if (found === version) return;
    if (found !== null)
      throw new Error(
        `${liveVersionKey(this.prefix)} pins ${found} while this windower's bars are ${version}: two aligner configs write one prefix; give each its own S3_PREFIX`,
      );
    const body = `${JSON.stringify({ version, pinnedAtMs: this.now() }, null, 2)}\n`;
    await this.store.put(liveVersionKey(this.prefix), new TextEncoder().encode(body), 'application/json');
  }
}
