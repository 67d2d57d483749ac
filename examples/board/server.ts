import { FastBlocksError } from 'fastblocks/errors'
import { createBoard } from './app.ts'

let board: Awaited<ReturnType<typeof createBoard>>
try {
  board = await createBoard()
} catch (error) {
  // Settings and secret problems are the operator's to fix: print the message, not a stack.
  if (error instanceof FastBlocksError) {
    console.error(`fastblocks: ${error.message}`)
    process.exit(1)
  }
  throw error
}

const { app, db } = board
const running = await app.listen()

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    app.logger.info({ signal }, 'shutting down')
    void running
      .close()
      .then(() => db.destroy())
      .then(() => process.exit(0))
  })
}
