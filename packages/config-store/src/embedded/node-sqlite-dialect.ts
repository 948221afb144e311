import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import { SqliteDialect, type SqliteDatabase, type SqliteStatement } from 'kysely';

/**
 * Kysely's SQLite dialect on Node's built-in `node:sqlite` (Kysely speaks better-sqlite3's
 * interface: statements know whether they return rows, parameters come as one array).
 */
export function nodeSqliteDialect(database: DatabaseSync): SqliteDialect {
  const adapted: SqliteDatabase = {
    close: () => database.close(),
    prepare: (text: string): SqliteStatement => {
      const statement = database.prepare(text);
      const values = (parameters: readonly unknown[]) => parameters.map(toSqlite);
      return {
        reader: statement.columns().length > 0,
        all: (parameters) => statement.all(...values(parameters)),
        run: (parameters) => statement.run(...values(parameters)),
        iterate: (parameters) => statement.iterate(...values(parameters)),
      };
    },
  };
  return new SqliteDialect({ database: adapted });
}

/** Booleans as 0/1 (node:sqlite binds no booleans); everything else as given. */
function toSqlite(value: unknown): SQLInputValue {
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value as SQLInputValue;
}
