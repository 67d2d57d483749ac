import type { Context } from 'hono'
import { createApp, type CreateAppOptions, type FastBlocks, type FastBlocksEnv } from 'fastblocks'
import { hxTrigger, redirect } from 'fastblocks/htmx'
import { BadRequestError, FastBlocksError } from 'fastblocks/errors'
import type { Kysely } from 'kysely'
import { join } from 'node:path'
import { openDatabase, type BoardDatabase } from './db.ts'

/** Maximum length of a note, in characters. */
export const MAX_NOTE_LENGTH = 500

export interface BoardOptions extends Partial<CreateAppOptions> {
  /** SQLite file. Default `data/board.sqlite` beside this file. */
  databaseFile?: string
}

export interface Board {
  app: FastBlocks
  db: Kysely<BoardDatabase>
}

type BoardContext = Context<FastBlocksEnv>

class UnsupportedMediaTypeError extends FastBlocksError {
  constructor() {
    super('E_BAD_REQUEST', 415, 'This endpoint accepts only application/json', true)
  }
}

/** Builds the notes board: a shared list of notes that htmx updates block by block. */
export async function createBoard(options: BoardOptions = {}): Promise<Board> {
  const root = options.root ?? import.meta.dirname
  const app = await createApp({ ...options, root })
  const db = await openDatabase(options.databaseFile ?? join(root, 'data', 'board.sqlite'))

  async function boardData(c: BoardContext) {
    const notes = await db.selectFrom('notes').selectAll().orderBy('id', 'desc').execute()
    const visits = c.var.session.get<number>('visits') ?? 0
    return { notes, visits, maxLength: MAX_NOTE_LENGTH }
  }

  async function page(c: BoardContext, block?: string) {
    c.var.session.set('visits', (c.var.session.get<number>('visits') ?? 0) + 1)
    return c.render('index.html', await boardData(c), { block })
  }

  app.get('/', (c) => page(c))
  app.get('/notes', (c) => page(c, 'notes'))
  app.get('/about', (c) => c.render('about.html'))

  // Posting is limited per client address; reading is not.
  app.rateLimit('POST', '/notes', { name: 'add-note', points: 120, duration: 60 })

  app.post('/notes', async (c) => {
    const form = await c.req.parseBody()
    const body = typeof form.body === 'string' ? form.body.trim() : ''
    if (body.length === 0 || body.length > MAX_NOTE_LENGTH) {
      throw new BadRequestError(`A note needs 1 to ${MAX_NOTE_LENGTH} characters`)
    }
    await db.insertInto('notes').values({ body, created_at: new Date().toISOString() }).execute()

    if (c.var.htmx.request) {
      hxTrigger(c, { 'note-added': { length: body.length } })
      return c.render('index.html', await boardData(c), { block: 'notes', blockOnly: true })
    }
    c.var.session.flash('success', 'Note added')
    const next = typeof form.next === 'string' ? form.next : '/'
    return redirect(c, next)
  })

  async function deleteNote(c: BoardContext) {
    const id = Number(c.req.param('id'))
    if (!Number.isSafeInteger(id) || id < 1) throw new BadRequestError('Invalid note id')
    await db.deleteFrom('notes').where('id', '=', id).execute()
    if (c.var.htmx.request) {
      return c.render('index.html', await boardData(c), { block: 'notes', blockOnly: true })
    }
    c.var.session.flash('info', 'Note deleted')
    return redirect(c, '/')
  }
  app.delete('/notes/:id', deleteNote)
  app.post('/notes/:id/delete', deleteNote)

  app.get('/counter', async (c) =>
    c.render('index.html', await boardData(c), { block: 'counter', blockOnly: true }),
  )

  // Forgetting the visitor starts a new session: a new CSRF seed, so every token issued
  // before is void, and htmx picks up the new one from the response.
  app.post('/forget', async (c) => {
    c.var.session.regenerate()
    c.var.session.set('visits', 0)
    return c.render('index.html', await boardData(c), { block: 'counter', blockOnly: true })
  })

  // Preferences are JSON. A body with any other type is rejected, never parsed as JSON.
  app.post('/api/prefs', async (c) => {
    const type = c.req.header('Content-Type') ?? ''
    if (type.split(';')[0]?.trim().toLowerCase() !== 'application/json') {
      throw new UnsupportedMediaTypeError()
    }
    let prefs: unknown
    try {
      prefs = await c.req.json()
    } catch {
      throw new BadRequestError('Body is not valid JSON')
    }
    const theme = (prefs as { theme?: unknown } | null)?.theme
    if (theme !== 'light' && theme !== 'dark')
      throw new BadRequestError('theme must be light or dark')
    c.var.session.set('theme', theme)
    return c.json({ theme })
  })

  app.get('/health', (c) => c.text('ok'))

  return { app, db }
}
