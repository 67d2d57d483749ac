import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createBoard, type Board } from '../../examples/board/app.ts'
import { memoryLog } from './logs.ts'
import { cookiesOf, csrfTokenOf } from './http.ts'

export interface RunningBoard extends Board {
  url: string
  origin: string
  logs: ReturnType<typeof memoryLog>
  dataFolder: string
  /** Loads the board page and returns a session cookie with a CSRF token of that session. */
  visitor(): Promise<{ cookie: string; token: string; html: string }>
  noteCount(): Promise<number>
  close(): Promise<void>
}

/** Starts the notes board on a free loopback port with its own database file. */
export async function startBoard(
  options: { htmxVersion?: 2 | 4; dataFolder?: string; env?: 'test' | 'development' } = {},
): Promise<RunningBoard> {
  const dataFolder = options.dataFolder ?? mkdtempSync(join(tmpdir(), 'fastblocks-board-'))
  const logs = memoryLog()
  const board = await createBoard({
    env: options.env ?? 'test',
    databaseFile: join(dataFolder, 'board.sqlite'),
    logDestination: logs.destination,
    overrides: { app: { htmx_version: options.htmxVersion ?? 4, log_level: 'info' } },
  })
  const running = await board.app.listen({ port: 0, host: '127.0.0.1' })
  const origin = running.url

  return {
    ...board,
    url: running.url,
    origin,
    logs,
    dataFolder,
    async visitor() {
      const response = await fetch(`${origin}/`)
      const html = await response.text()
      return { cookie: cookiesOf(response), token: csrfTokenOf(html), html }
    },
    async noteCount() {
      const row = await board.db
        .selectFrom('notes')
        .select((eb) => eb.fn.countAll<number>().as('count'))
        .executeTakeFirstOrThrow()
      return Number(row.count)
    },
    async close() {
      await running.close()
      await board.db.destroy()
      if (!options.dataFolder) rmSync(dataFolder, { recursive: true, force: true })
    },
  }
}
