import type { Context, Hono } from 'hono'
import type { FastBlocksEnv } from './env.ts'
import { MethodNotAllowedError, NotFoundError } from '../errors/index.ts'

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const

type RouterEntry = [[unknown, { method: string }], unknown]

/**
 * Raises 405 with an `Allow` header when the path has routes for other methods, else 404.
 * Middleware registered with `use()` matches every method, so only real routes count.
 */
export function methodNotAllowedOrNotFound(
  app: Hono<FastBlocksEnv>,
  c: Context<FastBlocksEnv>,
): never {
  const allowed: string[] = []
  for (const method of METHODS) {
    if (method === c.req.method) continue
    const [entries] = app.router.match(method, c.req.path) as unknown as [RouterEntry[]]
    if (entries.some(([[, route]]) => route.method !== 'ALL')) allowed.push(method)
  }
  if (allowed.length > 0) {
    if (allowed.includes('GET')) allowed.push('HEAD')
    throw new MethodNotAllowedError(allowed)
  }
  throw new NotFoundError()
}
