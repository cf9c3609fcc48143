import { closeSync, openSync } from 'node:fs';
import type { Command } from 'commander';
import { Option } from 'commander';
import {
  type AuditFilter,
  type AuditVerifyResult,
  exportAuditFile,
  verifyAuditFile,
} from '../access/audit.js';
import { FormatError } from '../errors.js';
import { write } from './args.js';

export interface AuditVerifyOptions {
  /** The audit log (SQLite file). */
  audit: string;
  /** Ed25519 public key PEM; default `<audit>.pub.pem`. */
  publicKey?: string;
}

/**
 * `sarbridge audit verify`: 0 and the result when the log is intact, else 1 and a message naming
 * the first bad record. Throws (NotFoundError, FormatError, ...) when the log cannot be read.
 */
export function runAuditVerify(opts: AuditVerifyOptions): {
  code: 0 | 1;
  result: AuditVerifyResult;
  message?: string;
} {
  const result = verifyAuditFile(opts.audit, opts.publicKey);
  if (result.ok) return { code: 0, result };
  const bad = result.firstBad!;
  return { code: 1, result, message: `${opts.audit}: first bad record ${bad.seq}: ${bad.reason}` };
}

export interface AuditExportOptions extends AuditFilter {
  audit: string;
  /** File for the JSON lines (truncated); default: `stdout`. */
  out?: string;
}

/** `sarbridge audit export`: the matching records as JSON lines; resolves to how many. */
export async function runAuditExport(
  opts: AuditExportOptions,
  stdout: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const { audit, out, ...filter } = opts;
  if (out === undefined) return exportAuditFile(audit, stdout, filter);
  const fd = openSync(out, 'w');
  try {
    return await exportAuditFile(audit, fd, filter);
  } finally {
    closeSync(fd);
  }
}

/** `sarbridge audit verify` and `sarbridge audit export`. */
export function registerAuditCommands(program: Command): void {
  const audit = program
    .command('audit')
    .description('the tamper-evident access audit log: verify its chain and digests, export records');

  audit
    .command('verify')
    .description(
      'check the hash chain and the signed digests; prints JSON, exits 1 naming the first bad record',
    )
    .addOption(new Option('--audit <file>', 'audit log (SQLite file)').makeOptionMandatory())
    .addOption(
      new Option(
        '--public-key <pem>',
        'Ed25519 public key PEM kept apart from the log (default <file>.pub.pem)',
      ),
    )
    .action((o: Record<string, unknown>) => {
      const file = String(o.audit);
      const r = runAuditVerify({ audit: file, publicKey: o.publicKey as string | undefined });
      write(r.result);
      if (r.code !== 0) {
        const bad = r.result.firstBad!;
        throw new FormatError(file, `first bad record ${bad.seq}: ${bad.reason}`);
      }
    });

  audit
    .command('export')
    .description('the records as JSON lines, oldest first')
    .addOption(new Option('--audit <file>', 'audit log (SQLite file)').makeOptionMandatory())
    .addOption(new Option('--org <id>', 'only this organisation'))
    .addOption(new Option('--actor <id>', "only this principal, e.g. 'user:alice'"))
    .addOption(new Option('--action <name>', "only this action, e.g. 'download'"))
    .addOption(new Option('--since <time>', 'records at or after this ISO 8601 time'))
    .addOption(new Option('--until <time>', 'records before this ISO 8601 time'))
    .addOption(new Option('--out <file>', 'write the lines to this file (default: stdout)'))
    .action(async (o: Record<string, unknown>) => {
      const opt = (k: string) => (o[k] === undefined ? undefined : String(o[k]));
      const out = opt('out');
      const records = await runAuditExport({
        audit: String(o.audit),
        org: opt('org'),
        actor: opt('actor'),
        action: opt('action'),
        since: opt('since'),
        until: opt('until'),
        out,
      });
      if (out !== undefined) write({ out, records });
    });
}
