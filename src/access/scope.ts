import type { LabelRules } from './labels.js';

export const ROLES = ['provider-admin', 'provider-operator', 'partner-admin', 'partner-analyst'] as const;
export type Role = (typeof ROLES)[number];

/** Who is asking: a user or a machine client of one organisation, resolved once per request. */
export interface Principal {
  /** 'user:<id>' or 'client:<id>'. */
  id: string;
  kind: 'user' | 'client';
  orgId: string;
  orgKind: 'provider' | 'partner';
  roles: Role[];
  /** The organisation's releasability codes (its own, e.g. GBR, and the groups it belongs to, e.g. NATO). */
  codes: string[];
  /** The highest classification the principal may see, per policy. */
  clearance: { policy: string; classification: string }[];
  /** The caveats (restrictive category values) the principal holds. */
  caveats: string[];
  /** How it authenticated: the API key prefix, the token id, or the signed URL's key. */
  credential: string;
}

/**
 * What a principal may see, in the form the stores apply inside their SQL: everything (the
 * provider), nothing, or the partner rule: label classification at most the clearance of its policy,
 * at least one releasability code in common, every caveat held, and the item's release time passed.
 */
export type Scope =
  | { kind: 'all' }
  | { kind: 'none' }
  | {
      kind: 'partner';
      clearances: { policy: string; maxRank: number }[];
      codes: string[];
      caveats: string[];
      nowMs: number;
    };

export const ALL: Scope = { kind: 'all' };
export const NONE: Scope = { kind: 'none' };

export const isProvider = (p: Principal | null): boolean =>
  p !== null && p.orgKind === 'provider' && p.roles.some((r) => r.startsWith('provider-'));

/** The one policy: a principal becomes a scope (default deny). */
export function scopeOf(p: Principal | null, rules: LabelRules, nowMs = Date.now()): Scope {
  if (p === null) return NONE;
  if (isProvider(p)) return ALL;
  if (p.orgKind !== 'partner' || !p.roles.some((r) => r.startsWith('partner-'))) return NONE;
  const clearances = p.clearance.flatMap((c) => {
    try {
      return [{ policy: c.policy, maxRank: rules.rank(c.policy, c.classification) }];
    } catch {
      return [];
    }
  });
  if (clearances.length === 0 || p.codes.length === 0) return NONE;
  return { kind: 'partner', clearances, codes: [...p.codes], caveats: [...p.caveats], nowMs };
}
