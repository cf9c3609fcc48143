import type { Scope } from '../access/scope.js';

/** How a backend binds the values of a scope: a scalar parameter, list membership and its negation. */
export interface ScopeBinder {
  num(v: number): string;
  text(v: string): string;
  /** `expr` is one of `values` (false for an empty list). */
  inList(expr: string, values: string[]): string;
  /** `expr` is none of `values` (true for an empty list). */
  notInList(expr: string, values: string[]): string;
}

/**
 * The ids of the labels a partner scope may see, as a subquery over the small `labels` table and its
 * releasability and caveat rows: classification at most the clearance of the label's policy, a
 * releasability code in common, and no caveat that is not held. Null for the provider (all) scope.
 */
export function visibleLabelsSql(scope: Scope, b: ScopeBinder): string | null {
  if (scope.kind === 'all') return null;
  if (scope.kind === 'none') return 'SELECT id FROM labels WHERE 1 = 0';
  const clear = scope.clearances.map(
    (c) => `(l.policy = ${b.text(c.policy)} AND l.rank <= ${b.num(c.maxRank)})`,
  );
  return `SELECT l.id FROM labels l WHERE (${clear.join(' OR ')})
    AND EXISTS (SELECT 1 FROM label_rel r WHERE r.label_id = l.id AND ${b.inList('r.code', scope.codes)})
    AND NOT EXISTS (SELECT 1 FROM label_caveat v WHERE v.label_id = l.id AND ${b.notInList('v.caveat', scope.caveats)})`;
}

/**
 * The WHERE conditions that keep an item query inside a scope: the item's effective label is visible,
 * its release time (archive hold) has passed, and its collection is visible. `plus` is SQLite's unary
 * plus that keeps the planner from driving the query by these terms (they filter, the other
 * conditions and the sort pick the index).
 */
export function itemScopeSql(scope: Scope, b: ScopeBinder, plus = ''): string[] {
  const labels = visibleLabelsSql(scope, b);
  if (labels === null) return [];
  if (scope.kind === 'none') return ['1 = 0'];
  const now = scope.kind === 'partner' ? scope.nowMs : 0;
  return [
    `${plus}items.label_id IN (${labels})`,
    `items.release_ms <= ${b.num(now)}`,
    `${plus}items.collection IN (SELECT c.id FROM collections c WHERE c.label_id IN (${visibleLabelsSql(scope, b)}))`,
  ];
}

/** The condition on a `collections` row for a scope (null: no condition). */
export function collectionScopeSql(scope: Scope, b: ScopeBinder, table = 'collections'): string | null {
  const labels = visibleLabelsSql(scope, b);
  return labels === null ? null : `${table}.label_id IN (${labels})`;
}
