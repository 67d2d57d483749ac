import Database from 'better-sqlite3'
import { Kysely, SqliteDialect, type Generated } from 'kysely'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'

export interface NotesTable {
  id: Generated<number>
  body: string
  created_at: string
}

export interface BoardDatabase {
  notes: NotesTable
}

/** Opens (and creates on first use) the SQLite database of the board. */
export async function openDatabase(file: string): Promise<Kysely<BoardDatabase>> {
  mkdirSync(dirname(file), { recursive: true })
  const sqlite = new Database(file)
  sqlite.pragma('journal_mode = WAL')
  const db = new Kysely<BoardDatabase>({ dialect: new SqliteDialect({ database: sqlite }) })
  await db.schema
    .createTable('notes')
    .ifNotExists()
    .addColumn('id', 'integer', (column) => column.primaryKey().autoIncrement())
    .addColumn('body', 'text', (column) => column.notNull())
    .addColumn('created_at', 'text', (column) => column.notNull())
    .execute()
  return db
}
