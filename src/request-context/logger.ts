import { pino, type Logger } from 'pino'

export interface LoggerOptions {
  /** pino level. Default `info`. */
  level?: string
  /** Destination of log lines. Default standard output. */
  destination?: pino.DestinationStream
}

/**
 * Creates the application's root logger. Request loggers are children of it bound to the
 * request id. Cookie, authorization and CSRF headers are redacted in case a caller logs a
 * whole header object.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const settings: pino.LoggerOptions = {
    level: options.level ?? 'info',
    base: undefined,
    redact: {
      paths: [
        'headers.cookie',
        'headers.authorization',
        'headers["x-csrf-token"]',
        'headers["set-cookie"]',
      ],
      censor: '[redacted]',
    },
  }
  return options.destination ? pino(settings, options.destination) : pino(settings)
}
