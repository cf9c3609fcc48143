/**
 * The delivery-time visibility check: the subscriber as it is now (its creating principal resolved
 * again from the identity store: a disabled principal, a changed organisation or clearance counts)
 * becomes a scope by the one policy (scopeOf), and the catalog store decides in its SQL whether
 * that scope sees the event's item (a later label change or embargo hides it). Nothing is sent
 * for an item the scope does not see.
 */
import type { IdentityStore } from '../access/identity.js';
import type { LabelRules } from '../access/labels.js';
import { scopeOf } from '../access/scope.js';
import type { CatalogStore } from '../catalog/store.js';
import type { Subscriber } from './dispatch.js';
import { itemKey, visibleItems } from './stream-visibility.js';
import type { AlertEvent } from './types.js';

/** The `visible` dependency of the dispatcher, over the identity store and the catalog. */
export function subscriberSees(
  identity: IdentityStore,
  rules: LabelRules,
  catalog: CatalogStore,
  now: () => number = Date.now,
): (sub: Subscriber, ev: AlertEvent) => Promise<boolean> {
  return async (sub, ev) => {
    const p = identity.resolve(sub.principalId, `subscription:${sub.id}`);
    if (p === null || p.orgId !== sub.orgId) return false;
    const scope = scopeOf(p, rules, now());
    const seen = await visibleItems(catalog, scope, [{ collection: ev.collection, itemId: ev.itemId }]);
    return seen.has(itemKey(ev.collection, ev.itemId));
  };
}
