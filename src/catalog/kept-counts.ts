import { compactParams } from './cql2/sql.js';

interface Kept {
  version: string;
  n: number | null;
  nowMs: number | null;
  nextReleaseMs: number;
}

/** Kept counts at most; past it the map starts over. */
const MAX_KEPT = 256;

/**
 * numberMatched counts kept while the catalog is unchanged, so the pages of one search count once.
 * The store gives a version that moves with every write (SQLite's data version and change count,
 * PostgreSQL's WAL insert position); for a partner, whose scope holds the time of the request, a
 * count also expires at the next release time of a held item after the time it was counted at.
 */
export class KeptCounts {
  private readonly kept = new Map<string, Kept>();

  /**
   * The key of a count query: its SQL and parameters, the partner's "now" (the parameter at
   * `nowIndex`) left out, so requests at other times share it.
   */
  key(sql: string, params: unknown[], nowIndex: number | null, placeholder: '?' | '$'): string {
    const k = compactParams(
      sql,
      params.map((v, i) => (i === nowIndex ? null : v)),
      placeholder,
    );
    return JSON.stringify([k.sql, k.params]);
  }

  /** The kept count for `key` at `version` and the request time `nowMs`, or undefined. */
  get(key: string, version: string, nowMs: number | null): number | null | undefined {
    const k = this.kept.get(key);
    if (!k || k.version !== version) return undefined;
    if (nowMs !== null && (k.nowMs === null || nowMs < k.nowMs || nowMs >= k.nextReleaseMs)) return undefined;
    return k.n;
  }

  set(key: string, version: string, n: number | null, nowMs: number | null, nextReleaseMs: number): void {
    if (this.kept.size >= MAX_KEPT) this.kept.clear();
    this.kept.set(key, { version, n, nowMs, nextReleaseMs });
  }
}

/** The index of the partner's "now" among a search's parameters (the scope's release condition), if any. */
export function nowParamIndex(where: string[], pattern: RegExp): number | null {
  for (const w of where) {
    const m = pattern.exec(w);
    if (m) return Number(m[1]) - 1;
  }
  return null;
}
