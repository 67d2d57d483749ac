import { createBoard } from './app.ts'

const { app, db } = await createBoard()
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
