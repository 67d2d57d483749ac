import { Writable } from 'node:stream'

export interface LogLine {
  level: number
  msg: string
  requestId?: string
  [key: string]: unknown
}

/** Creates a pino destination that keeps every line in memory, for assertions on logging. */
export function memoryLog(): { destination: Writable; lines: LogLine[]; text: () => string } {
  const lines: LogLine[] = []
  let raw = ''
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const text = chunk.toString('utf8')
      raw += text
      for (const line of text.split('\n')) {
        if (line.trim() !== '') lines.push(JSON.parse(line) as LogLine)
      }
      callback()
    },
  })
  return { destination, lines, text: () => raw }
}
