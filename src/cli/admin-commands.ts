import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import {
  type ApiKeyInfo,
  IdentityStore,
  type Organisation,
  type PrincipalRecord,
} from '../access/identity.js';
import { LabelRules } from '../access/labels.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { write } from './args.js';

/**
 * The administration of a server's identity store (`<access-dir>/identity.db`), the same operations
 * as the admin API: organisations, users, machine clients and API keys, and the first provider-admin.
 * Every function takes an open store and checks its input there, so errors name the field.
 */

/** `--codes GBR,NATO` and friends: comma-separated, blanks dropped (undefined when not given). */
export function csv(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  return String(v)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * `--clearance NATO:SECRET,OTHER:RESTRICTED`: policy and classification per entry. The policy and the
 * classification themselves are checked by the identity store (errors name clearance/<i>/...).
 */
export function parseClearance(v: unknown): { policy: string; classification: string }[] | undefined {
  const parts = csv(v);
  if (parts === undefined) return undefined;
  return parts.map((p, i) => {
    const colon = p.indexOf(':');
    if (colon <= 0 || colon === p.length - 1)
      throw new ValidationError(
        `--clearance: entry ${i} must be POLICY:CLASSIFICATION (e.g. NATO:SECRET), got '${p.slice(0, 80)}'`,
      );
    return { policy: p.slice(0, colon), classification: p.slice(colon + 1) };
  });
}

/** `--days`: whole days from 1 to 3650 (a bad value is bad input, exit 1, like the other fields). */
export function parseDays(v: unknown): number {
  const s = String(v);
  if (!/^\d{1,4}$/.test(s) || Number(s) < 1 || Number(s) > 3650)
    throw new ValidationError(
      `--days: must be a whole number of days from 1 to 3650, got '${s.slice(0, 20)}'`,
    );
  return Number(s);
}

/** Open the identity store of a server's access folder; the folder must exist, identity.db in it is created when missing. */
export function openIdentity(accessDir: string, rules = new LabelRules()): IdentityStore {
  const dir = resolve(accessDir);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new ValidationError(`--access-dir: '${accessDir}' is not a folder`);
  return new IdentityStore(join(dir, 'identity.db'), rules);
}

export interface OrgCreateOptions {
  id: string;
  kind?: string;
  name?: string;
  codes?: string[];
  clearance?: { policy: string; classification: string }[];
  caveats?: string[];
}

export function adminOrgCreate(id: IdentityStore, o: OrgCreateOptions): Organisation {
  return id.createOrganisation({
    id: o.id,
    kind: o.kind ?? 'partner',
    ...(o.name === undefined ? {} : { name: o.name }),
    codes: o.codes ?? [],
    clearance: o.clearance ?? [],
    caveats: o.caveats ?? [],
  });
}

export interface PrincipalCreateOptions {
  org: string;
  id: string;
  roles: string[];
  name?: string;
  clearance?: { policy: string; classification: string }[];
  caveats?: string[];
}

/** A user or a machine client; a client's secret is in the answer (shown once). */
export function adminPrincipalCreate(
  id: IdentityStore,
  kind: 'user' | 'client',
  o: PrincipalCreateOptions,
): PrincipalRecord & { client_id?: string; client_secret?: string } {
  const r = id.createPrincipal(o.org, kind, {
    id: o.id,
    roles: o.roles,
    ...(o.name === undefined ? {} : { name: o.name }),
    ...(o.clearance === undefined ? {} : { clearance: o.clearance }),
    ...(o.caveats === undefined ? {} : { caveats: o.caveats }),
  });
  return {
    ...r.principal,
    ...(r.clientSecret
      ? { client_id: r.principal.id.slice('client:'.length), client_secret: r.clientSecret }
      : {}),
  };
}

/** A new API key for `principal` ('user:alice' or 'client:sys1'); the key is in the answer (shown once). */
export function adminKeyCreate(
  id: IdentityStore,
  o: { principal: string; name?: string; days?: number },
): ApiKeyInfo & { key: string } {
  if (!/^(user|client):/.test(o.principal))
    throw new ValidationError(
      `--principal: must be user:<id> or client:<id>, got '${o.principal.slice(0, 80)}'`,
    );
  const k = id.createKey(o.principal, { name: o.name, expiresInDays: o.days });
  return { key: k.key, ...k.info };
}

export function adminKeyRevoke(id: IdentityStore, prefix: string): ApiKeyInfo {
  const k = id.keyInfo(prefix);
  if (!k) throw new NotFoundError(`<prefix>: key '${prefix.slice(0, 80)}' does not exist`);
  if (k.revokedAt !== null) throw new ValidationError(`<prefix>: key '${prefix}' is revoked already`);
  id.revokeKey(prefix);
  return id.keyInfo(prefix) as ApiKeyInfo;
}

/** The first provider-admin and its key; refuses a store that holds organisations already. */
export function adminBootstrap(id: IdentityStore): { principalId: string; key: string } {
  const boot = id.bootstrap();
  if (!boot)
    throw new ValidationError(
      'bootstrap: the identity store holds organisations already (bootstrap only starts an empty one)',
    );
  return boot;
}

/** `sarbridge admin ...`: organisations, users, clients and keys in a server's identity store. */
export function registerAdminCommands(program: Command): void {
  const admin = program
    .command('admin')
    .description('manage organisations, users, machine clients and API keys');
  const dirOption = () =>
    new Option('--access-dir <dir>', "the server's access folder (holds identity.db)").default('.');
  /** Run `fn` on the store of `--access-dir` and print its answer. */
  const withStore = (o: Record<string, unknown>, fn: (id: IdentityStore) => unknown) => {
    const id = openIdentity(String(o.accessDir));
    try {
      write(fn(id));
    } finally {
      id.close();
    }
  };
  const opt = (o: Record<string, unknown>, k: string) => (o[k] === undefined ? undefined : String(o[k]));

  const org = admin.command('org').description('organisations');
  org
    .command('create')
    .description('create a provider or partner organisation')
    .addOption(
      new Option('--id <id>', 'organisation id (lower-case letters, digits, _ . -)').makeOptionMandatory(),
    )
    .addOption(new Option('--kind <kind>', 'provider or partner').default('partner'))
    .addOption(new Option('--name <name>', 'display name (default: the id)'))
    .addOption(new Option('--codes <list>', 'releasability codes, comma-separated, e.g. GBR,NATO'))
    .addOption(new Option('--clearance <list>', 'POLICY:CLASSIFICATION, comma-separated, e.g. NATO:SECRET'))
    .addOption(new Option('--caveats <list>', 'caveats held, comma-separated'))
    .addOption(dirOption())
    .action((o: Record<string, unknown>) =>
      withStore(o, (id) =>
        adminOrgCreate(id, {
          id: String(o.id),
          kind: String(o.kind),
          name: opt(o, 'name'),
          codes: csv(o.codes),
          clearance: parseClearance(o.clearance),
          caveats: csv(o.caveats),
        }),
      ),
    );
  org
    .command('list')
    .description('list the organisations')
    .addOption(dirOption())
    .action((o: Record<string, unknown>) =>
      withStore(o, (id) => ({ organisations: id.listOrganisations() })),
    );

  for (const kind of ['user', 'client'] as const)
    admin
      .command(kind)
      .description(kind === 'user' ? 'users' : 'machine clients (OAuth2 client credentials)')
      .command('create')
      .description(
        kind === 'user'
          ? 'create a user of an organisation'
          : 'create a machine client; prints its client_id and client_secret (shown once)',
      )
      .addOption(new Option('--org <id>', 'organisation').makeOptionMandatory())
      .addOption(new Option('--id <id>', `${kind} id`).makeOptionMandatory())
      .addOption(
        new Option('--roles <list>', 'roles, comma-separated (e.g. partner-analyst)').makeOptionMandatory(),
      )
      .addOption(new Option('--name <name>', 'display name'))
      .addOption(new Option('--clearance <list>', "less than the organisation's: POLICY:CLASSIFICATION,..."))
      .addOption(new Option('--caveats <list>', "a subset of the organisation's caveats, comma-separated"))
      .addOption(dirOption())
      .action((o: Record<string, unknown>) =>
        withStore(o, (id) =>
          adminPrincipalCreate(id, kind, {
            org: String(o.org),
            id: String(o.id),
            roles: csv(o.roles) ?? [],
            name: opt(o, 'name'),
            clearance: parseClearance(o.clearance),
            caveats: csv(o.caveats),
          }),
        ),
      );

  const key = admin.command('key').description('API keys');
  key
    .command('create')
    .description('a new API key for a user or client; prints the key (shown once)')
    .addOption(new Option('--principal <id>', 'user:<id> or client:<id>').makeOptionMandatory())
    .addOption(new Option('--name <name>', 'what the key is for'))
    .addOption(new Option('--days <n>', 'days until it expires, 1 to 3650').default('90'))
    .addOption(dirOption())
    .action((o: Record<string, unknown>) =>
      withStore(o, (id) =>
        adminKeyCreate(id, { principal: String(o.principal), name: opt(o, 'name'), days: parseDays(o.days) }),
      ),
    );
  key
    .command('list')
    .description('list API keys (prefixes, never the keys)')
    .addOption(new Option('--org <id>', 'only the keys of this organisation'))
    .addOption(dirOption())
    .action((o: Record<string, unknown>) =>
      withStore(o, (id) => {
        const orgId = opt(o, 'org');
        if (orgId !== undefined && !id.getOrganisation(orgId))
          throw new NotFoundError(`--org: organisation '${orgId.slice(0, 80)}' does not exist`);
        return { keys: id.listKeys(orgId) };
      }),
    );
  key
    .command('revoke')
    .description('revoke a key by its prefix')
    .argument('<prefix>', "the key's prefix (from key list)")
    .addOption(dirOption())
    .action((prefix: string, o: Record<string, unknown>) => withStore(o, (id) => adminKeyRevoke(id, prefix)));

  admin
    .command('bootstrap')
    .description('create the provider organisation and its first provider-admin; prints its key (shown once)')
    .addOption(dirOption())
    .action((o: Record<string, unknown>) => withStore(o, (id) => adminBootstrap(id)));
}
