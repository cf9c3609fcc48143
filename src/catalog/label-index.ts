import {
  type ConfidentialityLabel,
  caveatsOf,
  LABEL_FIELD,
  type LabelRules,
  RELEASE_FIELD,
  releasableTo,
} from '../access/labels.js';
import { ValidationError } from '../errors.js';
import type { StacCollection, StacItem } from './types.js';
import { parseTimestamp } from './validate.js';

/** A label as the stores index it: one row per distinct label, with its codes and caveats. */
export interface LabelRow {
  canon: string;
  policy: string;
  rank: number;
  codes: string[];
  caveats: string[];
}

export function labelRow(rules: LabelRules, l: ConfidentialityLabel): LabelRow {
  return {
    canon: JSON.stringify(l),
    policy: l.policy,
    rank: rules.rank(l.policy, l.classification),
    codes: releasableTo(l),
    caveats: caveatsOf(l),
  };
}

/** The item's own label (canonical), or null when it has none. */
export function itemLabel(rules: LabelRules, it: StacItem): ConfidentialityLabel | null {
  const v = it.properties[LABEL_FIELD];
  return v === undefined ? null : rules.parse(v, `/properties/${LABEL_FIELD}`);
}

/** The collection's label (canonical), or null: provider-only. */
export function collectionLabel(rules: LabelRules, c: StacCollection): ConfidentialityLabel | null {
  const v = c[LABEL_FIELD];
  return v === undefined ? null : rules.parse(v, `/${LABEL_FIELD}`);
}

/** The release time of an item without an archive hold: the earliest time a Date can hold. */
export const NO_HOLD_MS = -8.64e15;

/** The item's release time in ms (archive hold), or NO_HOLD_MS when it has none. */
export function releaseMs(it: StacItem): number {
  const v = it.properties[RELEASE_FIELD];
  if (v === undefined) return NO_HOLD_MS;
  const ms = parseTimestamp(v);
  if (Number.isNaN(ms))
    throw new ValidationError(
      `/properties/${RELEASE_FIELD}: must be an RFC 3339 timestamp, got '${String(v)}'`,
    );
  return ms;
}

export const LABEL_TABLES_SQL = `
CREATE TABLE IF NOT EXISTS labels (id INTEGER PRIMARY KEY, canon TEXT NOT NULL UNIQUE, policy TEXT NOT NULL, rank INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS label_rel (label_id INTEGER NOT NULL, code TEXT NOT NULL, PRIMARY KEY (label_id, code));
CREATE TABLE IF NOT EXISTS label_caveat (label_id INTEGER NOT NULL, caveat TEXT NOT NULL, PRIMARY KEY (label_id, caveat));
`;
