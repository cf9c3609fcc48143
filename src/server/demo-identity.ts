import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { IdentityStore } from '../access/identity.js';
import type { LabelRules } from '../access/labels.js';
import type { Role } from '../access/scope.js';

/** One demonstration account and its API key (a demo's keys are kept in the data folder, to print again). */
export interface DemoCredential {
  org: string;
  orgKind: 'provider' | 'partner';
  /** The organisation's releasability codes (empty for the provider, which sees everything). */
  codes: string[];
  principal: string;
  roles: Role[];
  key: string;
}

interface AccountSpec {
  org: string;
  orgName: string;
  orgKind: 'provider' | 'partner';
  codes: string[];
  user: string;
  userName: string;
  roles: Role[];
}

/** The provider's admin and operator, and one analyst in each of the two partner organisations. */
export function demoAccounts(partners: [string, string]): AccountSpec[] {
  const provider = { org: 'provider', orgName: 'Provider', orgKind: 'provider' as const, codes: [] };
  const partner = (code: string): AccountSpec => ({
    org: `partner-${code.toLowerCase()}`,
    orgName: `Partner ${code}`,
    orgKind: 'partner',
    codes: [code],
    user: `analyst-${code.toLowerCase()}`,
    userName: `${code} analyst`,
    roles: ['partner-analyst'],
  });
  return [
    { ...provider, user: 'admin', userName: 'Provider admin', roles: ['provider-admin'] },
    { ...provider, user: 'operator', userName: 'Provider operator', roles: ['provider-operator'] },
    partner(partners[0]),
    partner(partners[1]),
  ];
}

function readCredentials(file: string): DemoCredential[] {
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { credentials?: DemoCredential[] };
    return Array.isArray(doc.credentials) ? doc.credentials : [];
  } catch {
    return [];
  }
}

function writeCredentials(file: string, credentials: DemoCredential[]): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(
    tmp,
    `${JSON.stringify({ note: 'demo API keys (sarbridge start prints them); not for production', credentials }, null, 2)}\n`,
    { mode: 0o600 },
  );
  renameSync(tmp, file);
}

/**
 * Make sure the demonstration organisations, users and API keys exist in the identity store (each
 * created only when missing, so this may run again after a kill at any point), and answer each
 * account with a working key. The keys are kept in `credentialsFile` (mode 0600) so that every start
 * prints them; an account whose key is not there (a kill between creating and keeping it) or no
 * longer works gets its old keys revoked and a new one.
 */
export function ensureDemoAccounts(
  identity: IdentityStore,
  rules: LabelRules,
  credentialsFile: string,
  partners: [string, string],
): DemoCredential[] {
  const policy = rules.policies[0];
  const top = policy.classifications.at(-1) as string;
  const kept = readCredentials(credentialsFile);
  const out: DemoCredential[] = [];
  for (const a of demoAccounts(partners)) {
    if (!identity.getOrganisation(a.org))
      identity.createOrganisation({
        id: a.org,
        name: a.orgName,
        kind: a.orgKind,
        codes: a.codes,
        clearance: [{ policy: policy.id, classification: top }],
        caveats: [],
      });
    const principal = `user:${a.user}`;
    if (!identity.getPrincipalRecord(principal))
      identity.createPrincipal(a.org, 'user', { id: a.user, name: a.userName, roles: a.roles });
    const had = kept.find((c) => c.principal === principal);
    let key = had?.key ?? null;
    if (!key || identity.authenticateKey(key)?.id !== principal) {
      for (const k of identity.listKeys(a.org))
        if (k.principalId === principal && k.revokedAt === null) identity.revokeKey(k.prefix);
      key = identity.createKey(principal, { name: 'demo', expiresInDays: 3650 }).key;
    }
    out.push({ org: a.org, orgKind: a.orgKind, codes: a.codes, principal, roles: a.roles, key });
    writeCredentials(credentialsFile, [
      ...out,
      ...kept.filter((c) => !out.some((o) => o.principal === c.principal)),
    ]);
  }
  return out;
}
