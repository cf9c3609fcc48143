import { z } from 'zod';
import type { ConfidentialityLabel } from '../access/labels.js';
import { LabelRules } from '../access/labels.js';
import { parseStoreLocation } from '../store/store.js';

/**
 * The one schema of the settings of `sarbridge serve`, `sarbridge worker` and `npm start`. Every
 * setting is read from a flag, an environment variable or the config file (see load.ts), and each
 * value is checked here with a message that says what was expected; load.ts puts the setting's source
 * in front ("SARBRIDGE_QUEUE: expected a redis:// URL or a file path, got 'htp://x'").
 */

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

/** A value as it may be shown in a message: URL passwords masked, long values cut. */
export function shown(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  const masked = String(s).replace(/(\/\/[^/:@]*:)[^@/]*@/, '$1***@');
  return masked.length > 120 ? `${masked.slice(0, 117)}...` : masked;
}

/** A non-empty string, trimmed. */
const text = (expected: string) =>
  z
    .string({
      error: (i) => `expected ${expected}, got ${i.input === undefined ? 'nothing' : shown(i.input)}`,
    })
    .trim()
    .min(1, { error: `expected ${expected}, got an empty value` });

/** True for a URL of one of `schemes` with a host. */
function urlOf(v: string, schemes: string[]): boolean {
  try {
    const u = new URL(v);
    return schemes.includes(u.protocol.replace(/:$/, '')) && u.hostname !== '';
  } catch {
    return false;
  }
}

/**
 * A location that is either a URL of the given schemes or a file path (a string with no other
 * `scheme://`). Windows drive letters ('C:\x') are paths.
 */
function urlOrPath(expected: string, schemes: string[]) {
  return text(expected).refine(
    (v) => {
      const m = SCHEME.exec(v);
      return m ? urlOf(v, schemes) : !/^[A-Za-z][A-Za-z0-9+.-]+:(?![\\/])/.test(v);
    },
    { error: (i) => `expected ${expected}, got '${shown(i.input)}'` },
  );
}

/** http(s)://host[:port] with no path, query or user (what the server and browsers compare). */
const ORIGIN = /^https?:\/\/[^/?#@\s]+$/i;

const label = z.unknown().transform((v, ctx): ConfidentialityLabel => {
  try {
    return new LabelRules().parse(v, 'label');
  } catch (err) {
    ctx.addIssue({
      code: 'custom',
      message: (err as Error).message.replace(/^label\/?/, '').replace(/^: /, ''),
    });
    return z.NEVER;
  }
});

const dropFolder = z
  .object({
    path: text('a folder path'),
    /** The release label every product dropped here gets unless it brings its own. */
    label,
    /** The catalog collection its products go to (default: the pipeline's). */
    collection: text('a collection id')
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, {
        error: 'expected a collection id (letters, digits, . _ -)',
      })
      .optional(),
  })
  .strict();

/**
 * The settings as given, before defaults are derived from one another (load.ts fills `db`, `queue`,
 * `store`, `accessDir` from `dataDir` and `publicUrl` from `host` and `port`).
 */
export const configSchema = z
  .object({
    /** Folder of everything sarbridge keeps by default: catalog, queue, assets, identity store. */
    dataDir: text('a folder path'),
    /** The catalog: an SQLite file (created when missing) or postgres://user:pw@host/db. */
    db: urlOrPath('an SQLite file path or a postgres:// URL', ['postgres', 'postgresql']),
    /** The job queue: an SQLite file (embedded, the default) or redis://host:port (BullMQ). */
    queue: urlOrPath('a redis:// URL or a file path', ['redis', 'rediss']),
    /** The asset store: a folder or s3://bucket/prefix (checked by the store's own parser too). */
    store: text("'s3://bucket[/prefix]' or a folder path").superRefine((v, ctx) => {
      try {
        parseStoreLocation(v, '');
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^: /, '') });
      }
    }),
    /** S3-compatible endpoint (MinIO, Ceph, ...); none for AWS itself. */
    s3Endpoint: text('an http(s):// URL').refine((v) => urlOf(v, ['http', 'https']), {
      error: (i) => `expected an http(s):// URL, got '${shown(i.input)}'`,
    }),
    s3Region: text('a region name such as eu-west-1').regex(/^[a-z0-9-]{2,32}$/, {
      error: 'expected a region name such as eu-west-1',
    }),
    /** Without both keys, the AWS SDK's own credential chain applies (AWS_* variables, profiles, roles). */
    s3AccessKeyId: text('an access key id'),
    s3SecretAccessKey: text('a secret access key'),
    /** Path-style requests (http://endpoint/bucket/key), which most S3-compatible servers need. */
    s3ForcePathStyle: z.boolean({ error: 'expected true or false' }),
    /** Address to listen on. */
    host: text('a host name or IP address').regex(/^[A-Za-z0-9.:[\]-]+$/, {
      error: 'expected a host name or IP address',
    }),
    port: z
      .int({ error: 'expected an integer port from 0 to 65535' })
      .min(0, { error: 'expected an integer port from 0 to 65535' })
      .max(65535, { error: 'expected an integer port from 0 to 65535' }),
    /** The base of every link the server writes: http(s)://host[:port], as partners reach it. */
    publicUrl: text('an http(s)://host[:port] URL')
      .transform((v) => v.replace(/\/+$/, ''))
      .refine((v) => ORIGIN.test(v) && urlOf(v, ['http', 'https']), {
        error: (i) => `expected an http(s)://host[:port] URL with no path, got '${shown(i.input)}'`,
      }),
    /** Origins whose browser scripts may call the API (CORS); none by default. */
    corsOrigins: z.array(
      text('an origin').refine((v) => ORIGIN.test(v) && urlOf(v, ['http', 'https']), {
        error: (i) => `expected an origin such as https://app.example.org, got '${shown(i.input)}'`,
      }),
      { error: 'expected a list of origins' },
    ),
    /** Folder of the identity store and the audit log. */
    accessDir: text('a folder path'),
    /** Requests per second per credential (bursts of 4x); 0 for no limit. */
    rateLimitPerS: z
      .int({ error: 'expected an integer from 0 to 1000000' })
      .min(0, { error: 'expected an integer from 0 to 1000000' })
      .max(1_000_000, { error: 'expected an integer from 0 to 1000000' }),
    /** Largest product a provider may upload through /uploads, MiB. */
    maxUploadMiB: z
      .int({ error: 'expected an integer from 1 to 1048576 (MiB)' })
      .min(1, { error: 'expected an integer from 1 to 1048576 (MiB)' })
      .max(1_048_576, { error: 'expected an integer from 1 to 1048576 (MiB)' }),
    /** Jobs a worker runs at once. */
    workerConcurrency: z
      .int({ error: 'expected an integer from 1 to 64' })
      .min(1, { error: 'expected an integer from 1 to 64' })
      .max(64, { error: 'expected an integer from 1 to 64' }),
    /** Watched folders and the label of the products dropped into each. */
    dropFolders: z.array(dropFolder, { error: 'expected a list of {path, label, collection}' }),
  })
  .partial()
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
export type ConfigValues = z.output<typeof configSchema>;
export type SettingKey = keyof ConfigValues;

/** A catalog, queue or store location, parsed. */
export type DbLocation = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };
export type QueueLocation = { kind: 'sqlite'; path: string } | { kind: 'redis'; url: string };

/** Where a setting's value came from. */
export type SettingSource = 'flag' | 'env' | 'file' | 'default';

/** The validated configuration that the library gets passed down (no process.env reads below the CLI). */
export interface SarbridgeConfig {
  /** Absolute paths. */
  dataDir: string;
  db: DbLocation;
  queue: QueueLocation;
  store: { kind: 'local'; root: string } | { kind: 's3'; bucket: string; prefix: string; url: string };
  s3: {
    endpoint: string | null;
    region: string;
    accessKeyId: string | null;
    secretAccessKey: string | null;
    forcePathStyle: boolean;
  };
  host: string;
  port: number;
  publicUrl: string;
  corsOrigins: string[];
  accessDir: string;
  rateLimitPerS: number;
  maxUploadMiB: number;
  workerConcurrency: number;
  dropFolders: { path: string; label: ConfidentialityLabel; collection: string | null }[];
  /** Where each setting came from, with its flag, variable or file name (for `--json` start-up output). */
  sources: Record<SettingKey, { source: SettingSource; name: string }>;
}
