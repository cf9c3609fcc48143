import type Database from 'better-sqlite3';

/**
 * Statements of one database prepared once per SQL text: preparing costs more than running the
 * short queries of authentication, audit reads and scoped item lookups. At most `max` are kept (the
 * cache starts again when full: search SQL varies with its parameters).
 */
export function statementCache(db: Database.Database, max = 256): (sql: string) => Database.Statement {
  const statements = new Map<string, Database.Statement>();
  return (sql) => {
    let st = statements.get(sql);
    if (st === undefined) {
      if (statements.size >= max) statements.clear();
      st = db.prepare(sql);
      statements.set(sql, st);
    }
    return st;
  };
}
