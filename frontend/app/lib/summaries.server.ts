/**
 * Reads hour summaries with a small in-memory cache keyed by ETag: the overview lists `summaries/` (one object per
 * hour) and only re-reads the summaries whose ETag changed; an hour page revalidates with If-None-Match.
 * The cache is bounded in bytes as well as entries: a v1 summary (still in older buckets) lists every image of its
 * hour, so a busy hour's runs to megabytes (about 230 bytes of JSON per image); v2 summaries hold counts only.
 */
import { SUMMARIES, partitionOfSummaryKey, shiftPartition, summaryKey } from "./layout";
import { TIMELINE_HOURS } from "./overview";
import type { Summary } from "./records";
import { StorageError, getJson, listObjects } from "./s3.server";

const FRESH_MS = 2_000;
const MAX_CACHED = 400;
/** JSON bytes of the cached summaries (their parsed objects take a few times that in memory). */
export const MAX_CACHED_BYTES = 128 * 2 ** 20;
const READ_CONCURRENCY = 8;

interface Cached {
  summary: Summary;
  etag: string | undefined;
  checkedAt: number;
  bytes: number;
}

const cache = new Map<string, Cached>();
let listing: { at: number; objects: Promise<{ partition: string; key: string; etag: string | undefined }[]> } | undefined;

let cachedBytes = 0;

function forget(key: string): void {
  const entry = cache.get(key);
  if (entry !== undefined) {
    cachedBytes -= entry.bytes;
    cache.delete(key);
  }
}

function remember(key: string, entry: Cached): Summary {
  forget(key);
  cache.set(key, entry);
  cachedBytes += entry.bytes;
  // Least recently used first; the entry just added always stays (it is being served).
  while ((cache.size > MAX_CACHED || cachedBytes > MAX_CACHED_BYTES) && cache.size > 1) {
    forget(cache.keys().next().value as string);
  }
  return entry.summary;
}

/** What the cache holds now (for diagnostics and tests). */
export function summaryCacheStats(): { entries: number; bytes: number } {
  return { entries: cache.size, bytes: cachedBytes };
}

async function read(key: string, knownEtag?: string): Promise<Summary> {
  const cached = cache.get(key);
  if (cached !== undefined && (knownEtag !== undefined ? cached.etag === knownEtag : Date.now() - cached.checkedAt < FRESH_MS)) {
    return cached.summary;
  }
  try {
    const { value, etag, bytes } = await getJson<Summary>(key, cached?.etag);
    return remember(key, { summary: value, etag, checkedAt: Date.now(), bytes });
  } catch (error) {
    if (error instanceof StorageError && error.status === 304 && cached !== undefined) {
      return remember(key, { ...cached, checkedAt: Date.now() });
    }
    throw error;
  }
}

/** One hour's summary, or null when that hour has none (yet). */
export async function loadSummary(partition: string): Promise<Summary | null> {
  try {
    return await read(summaryKey(partition));
  } catch (error) {
    if (error instanceof StorageError && error.status === 404) {
      return null;
    }
    throw error;
  }
}

function listSummaries() {
  if (listing === undefined || Date.now() - listing.at > FRESH_MS) {
    const objects = listObjects(SUMMARIES).then((found) =>
      found.flatMap(({ key, etag }) => {
        const partition = partitionOfSummaryKey(key);
        return partition === null ? [] : [{ partition, key, etag }];
      }),
    );
    listing = { at: Date.now(), objects };
    objects.catch(() => {
      listing = undefined;
    });
  }
  return listing.objects;
}

/** Summaries of the TIMELINE_HOURS hours ending at the newest summarized hour, newest first. */
export async function loadRecentSummaries(): Promise<Summary[]> {
  const listed = (await listSummaries()).sort((a, b) => b.partition.localeCompare(a.partition));
  if (listed.length === 0) {
    return [];
  }
  const oldest = shiftPartition(listed[0].partition, 1 - TIMELINE_HOURS);
  const recent = listed.filter(({ partition }) => partition >= oldest);
  const summaries = Array.from({ length: recent.length }, (): Summary | null => null);
  let next = 0;
  const worker = async () => {
    while (next < recent.length) {
      const index = next++;
      try {
        summaries[index] = await read(recent[index].key, recent[index].etag);
      } catch (error) {
        // Deleted since the listing: skip it.
        if (!(error instanceof StorageError && error.status === 404)) throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, recent.length) }, worker));
  return summaries.filter((summary): summary is Summary => summary !== null);
}
