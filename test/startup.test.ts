import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'

const ROOT = join(import.meta.dirname, '..')
const SERVER = join(ROOT, 'examples', 'board', 'server.ts')
const GOOD_SESSION = 'q8Vn3Kd0Xr7Lm2Zt5Wb9Yc4Hf6Jg1Ps-Ee_Uu'
const GOOD_CSRF = 'Hx5Wn8Kr2Lm7Qd0Zt3Vb6Yc9Jf4Pg1Ss-Aa_Oo'

/** Starts the board in production with the given secrets and returns how it exited. */
function startProduction(secrets: { SESSION_SECRET?: string; CSRF_SECRET?: string }) {
  const environ: Record<string, string | undefined> = {
    ...process.env,
    NODE_ENV: 'production',
    PORT: '0',
    SESSION_SECRET: secrets.SESSION_SECRET,
    CSRF_SECRET: secrets.CSRF_SECRET,
  }
  for (const key of Object.keys(environ)) if (environ[key] === undefined) delete environ[key]
  return spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', SERVER], {
    cwd: ROOT,
    env: environ as NodeJS.ProcessEnv,
    encoding: 'utf8',
    timeout: 15_000,
  })
}

describe('production start-up', () => {
  const weak: Array<[string, { SESSION_SECRET?: string; CSRF_SECRET?: string }, RegExp]> = [
    ['missing session secret', { CSRF_SECRET: GOOD_CSRF }, /session_secret/],
    ['short csrf secret', { SESSION_SECRET: GOOD_SESSION, CSRF_SECRET: 'short' }, /csrf_secret/],
    [
      'placeholder session secret',
      { SESSION_SECRET: 'your-secret-key', CSRF_SECRET: GOOD_CSRF },
      /session_secret/,
    ],
    [
      'equal secrets',
      { SESSION_SECRET: GOOD_SESSION, CSRF_SECRET: GOOD_SESSION },
      /csrf_secret|session_secret/,
    ],
  ]

  for (const [name, secrets, setting] of weak) {
    test(`refuses ${name}`, () => {
      const result = startProduction(secrets)
      const output = `${result.stdout}${result.stderr}`
      expect(result.status).not.toBe(0)
      expect(result.status).not.toBeNull()
      expect(output).toMatch(setting)
      expect(output).toContain('npx fastblocks secret')
      for (const value of Object.values(secrets)) {
        if (value && value.length >= 32) expect(output).not.toContain(value)
      }
    })
  }
})
