import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import pino from 'pino'
import { afterEach, describe, expect, test } from 'vitest'
import { FastBlocksError, WeakSecretError } from '../errors/index.ts'
import { isProduction, loadSettings, secretWeakness, type LoadSettingsOptions } from './index.ts'

const run = promisify(execFile)
const REPOSITORY = join(import.meta.dirname, '..', '..')

const roots: string[] = []

afterEach(async () => {
  await Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true })))
})

/** Creates an application root with the given files under `settings/`. */
async function makeRoot(files: Record<string, string> = {}): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'fastblocks-config-'))
  roots.push(root)
  await mkdir(join(root, 'settings'))
  for (const [name, text] of Object.entries(files)) {
    await writeFile(join(root, 'settings', name), text)
  }
  return root
}

function strongSecret(): string {
  return randomBytes(32).toString('base64url')
}

/** Loads with an empty environment unless one is given, so the shell's variables do not leak in. */
function load(root: string, options: Partial<LoadSettingsOptions> = {}) {
  return loadSettings({ root, environ: {}, ...options })
}

async function loadError(root: string, options: Partial<LoadSettingsOptions> = {}) {
  try {
    await load(root, options)
  } catch (error) {
    if (error instanceof FastBlocksError) return error
    throw error
  }
  throw new Error('loadSettings did not throw')
}

function memoryLogger() {
  const lines: string[] = []
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) })
  return { logger, lines }
}

describe('defaults', () => {
  test('empty root gives documented defaults', async () => {
    const root = await makeRoot()
    const settings = await load(root)

    expect(settings.root).toBe(root)
    expect(settings.env).toBe('development')
    expect(settings.app.name).toBe('FastBlocks app')
    expect(settings.app.origin).toBeUndefined()
    expect(settings.app.trusted_proxies).toEqual([])
    expect(settings.app.session_cookie).toBe('session')
    expect(settings.app.session_max_age).toBe(1_209_600)
    expect(settings.app.session_idle_timeout).toBe(7_200)
    expect(settings.app.htmx_version).toBe(4)
    expect(settings.app.log_level).toBe('info')
    expect(settings.middleware).toEqual({
      body_limit: 1_048_576,
      request_timeout: 30_000,
      headers_timeout: 10_000,
      max_header_size: 16_384,
      csp: {},
      hsts_max_age: 31_536_000,
    })
    expect(settings.templates).toEqual({
      directory: 'templates',
      security_level: 'STANDARD',
      strict_undefined: false,
      autoescape: true,
      reload: true,
    })
  })

  test('root without settings folder loads', async () => {
    const root = await makeRoot()
    await rm(join(root, 'settings'), { recursive: true })
    const settings = await load(root)
    expect(settings.app.name).toBe('FastBlocks app')
  })

  test('missing root is an error', async () => {
    const error = await loadError(join(tmpdir(), `fastblocks-missing-${process.pid}-${Date.now()}`))
    expect(error.code).toBe('E_INVALID_SETTINGS')
  })

  test('test env logs at warn and does not reload', async () => {
    const settings = await load(await makeRoot(), { env: 'test' })
    expect(settings.app.log_level).toBe('warn')
    expect(settings.templates.reload).toBe(false)
  })

  test('values from files replace defaults', async () => {
    const root = await makeRoot({
      'app.yml': 'name: Board\nsession_max_age: 3600\nsession_idle_timeout: 600\nhtmx_version: 2\n',
      'middleware.yml': 'body_limit: 2048\ncsp:\n  img-src: [https://cdn.example]\n',
      'templates.yml': 'directory: views\nreload: false\n',
    })
    const settings = await load(root)
    expect(settings.app.name).toBe('Board')
    expect(settings.app.session_max_age).toBe(3600)
    expect(settings.app.htmx_version).toBe(2)
    expect(settings.middleware.body_limit).toBe(2048)
    expect(settings.middleware.csp).toEqual({ 'img-src': ['https://cdn.example'] })
    expect(settings.templates.directory).toBe('views')
    expect(settings.templates.reload).toBe(false)
  })

  test('key without a value counts as not set', async () => {
    const root = await makeRoot({ 'app.yml': 'origin:\ntrusted_proxies:\nname: ~\n' })
    const settings = await load(root)
    expect(settings.app.origin).toBeUndefined()
    expect(settings.app.trusted_proxies).toEqual([])
    expect(settings.app.name).toBe('FastBlocks app')
  })
})

describe('environment', () => {
  test('NODE_ENV wins over app.yml env', async () => {
    const root = await makeRoot({ 'app.yml': 'env: test\n' })
    const settings = await load(root, { environ: { NODE_ENV: 'development' } })
    expect(settings.env).toBe('development')
  })

  test('app.yml env applies without NODE_ENV', async () => {
    const root = await makeRoot({ 'app.yml': 'env: test\n' })
    expect((await load(root)).env).toBe('test')
  })

  test('env option wins over NODE_ENV', async () => {
    const root = await makeRoot()
    const settings = await load(root, { env: 'test', environ: { NODE_ENV: 'development' } })
    expect(settings.env).toBe('test')
  })

  test('unknown NODE_ENV is an error', async () => {
    const error = await loadError(await makeRoot(), { environ: { NODE_ENV: 'staging' } })
    expect(error.code).toBe('E_INVALID_SETTINGS')
    expect(error.message).toContain('NODE_ENV is "staging"')
  })

  test('isProduction reads env', () => {
    expect(isProduction({ env: 'production' })).toBe(true)
    expect(isProduction({ env: 'development' })).toBe(false)
  })
})

describe('interpolation', () => {
  test('replaces placeholders', async () => {
    const root = await makeRoot({
      'app.yml': [
        'name: ${APP_NAME}',
        'origin: https://${APP_HOST}',
        'session_cookie: ${COOKIE_NAME:-sid}',
        'log_level: ${LOG_LEVEL:-debug}',
      ].join('\n'),
    })
    const settings = await load(root, {
      environ: { APP_NAME: 'Board', APP_HOST: 'board.example', LOG_LEVEL: '' },
    })
    expect(settings.app.name).toBe('Board')
    expect(settings.app.origin).toBe('https://board.example')
    expect(settings.app.session_cookie).toBe('sid')
    expect(settings.app.log_level).toBe('debug')
  })

  test('$${ is a literal', async () => {
    const root = await makeRoot({ 'app.yml': 'name: "Costs $${PRICE} and $5"\n' })
    expect((await load(root)).app.name).toBe('Costs ${PRICE} and $5')
  })

  test('values are not interpolated twice', async () => {
    const root = await makeRoot({ 'app.yml': 'name: ${APP_NAME}\n' })
    const settings = await load(root, { environ: { APP_NAME: '${HOME}', HOME: '/root' } })
    expect(settings.app.name).toBe('${HOME}')
  })

  test('numbers, booleans and lists coerced', async () => {
    const root = await makeRoot({
      'app.yml': 'htmx_version: ${HTMX}\ntrusted_proxies: ${PROXIES}\n',
      'middleware.yml': 'body_limit: ${BODY_LIMIT}\n',
      'templates.yml': 'reload: ${RELOAD}\n',
    })
    const settings = await load(root, {
      environ: { HTMX: '2', PROXIES: '10.0.0.0/8, 192.0.2.1', BODY_LIMIT: '4096', RELOAD: 'false' },
    })
    expect(settings.app.htmx_version).toBe(2)
    expect(settings.app.trusted_proxies).toEqual(['10.0.0.0/8', '192.0.2.1'])
    expect(settings.middleware.body_limit).toBe(4096)
    expect(settings.templates.reload).toBe(false)
  })

  test('missing variable names file, key and variable', async () => {
    const root = await makeRoot({ 'app.yml': 'session_secret: ${SESSION_SECRET}\n' })
    const error = await loadError(root)
    expect(error.code).toBe('E_INVALID_SETTINGS')
    expect(error.message).toContain('settings/app.yml')
    expect(error.message).toContain('key session_secret')
    expect(error.message).toContain('${SESSION_SECRET}')
    expect(error.message).toContain('export SESSION_SECRET')
    expect(error.message).toContain('${SESSION_SECRET:-value}')
  })

  test('missing variable inside a list names the index', async () => {
    const root = await makeRoot({ 'app.yml': 'trusted_origins: [https://a.example, "${OTHER}"]\n' })
    const error = await loadError(root)
    expect(error.message).toContain('key trusted_origins[1] uses ${OTHER}')
  })

  test('malformed placeholders are errors', async () => {
    const root = await makeRoot({ 'app.yml': 'name: "${1BAD}"\nsession_cookie: "${OPEN"\n' })
    const error = await loadError(root)
    expect(error.code).toBe('E_INVALID_SETTINGS')
    expect(error.message).toContain('key name has an invalid placeholder ${1BAD}')
    expect(error.message).toContain('key session_cookie has a "${" with no closing "}"')
  })
})

describe('validation', () => {
  test('unknown key suggests the nearest', async () => {
    const root = await makeRoot({ 'app.yml': 'sesion_secret: x\n' })
    const error = await loadError(root)
    expect(error.code).toBe('E_INVALID_SETTINGS')
    expect(error.message).toContain('settings/app.yml: key sesion_secret is not a known setting')
    expect(error.message).toContain('did you mean session_secret?')
  })

  test('key of another file names that file', async () => {
    const root = await makeRoot({ 'app.yml': 'body_limit: 10\n' })
    const error = await loadError(root)
    expect(error.message).toContain('key body_limit is a setting of middleware.yml')
  })

  test('wrong type names key and value', async () => {
    const root = await makeRoot({ 'app.yml': 'session_max_age: two weeks\n' })
    const error = await loadError(root)
    expect(error.code).toBe('E_INVALID_SETTINGS')
    expect(error.message).toContain('settings/app.yml: key session_max_age must be a whole number')
    expect(error.message).toContain('got "two weeks"')
  })

  test('reports every problem at once', async () => {
    const root = await makeRoot({
      'app.yml': 'session_max_age: -1\nhtmx_version: 3\nunknown_key: 1\n',
      'middleware.yml': 'body_limit: 1.5\n',
      'templates.yml': 'autoescape: no\n',
    })
    const error = await loadError(root)
    expect(error.message).toContain('(5 problems)')
    expect(error.message).toContain('key session_max_age')
    expect(error.message).toContain('key htmx_version must be 2 or 4')
    expect(error.message).toContain('key unknown_key')
    expect(error.message).toContain('settings/middleware.yml: key body_limit')
    expect(error.message).toContain('settings/templates.yml: key autoescape must be true or false')
  })

  test.each([
    ['https://app.example/path', 'no path'],
    ['https://app.example?x=1', 'no path'],
    ['ftp://app.example', 'http or https'],
    ['https://user:pass@app.example', 'user name or password'],
    ['app.example', 'origin such as'],
    ['javascript:alert(1)', 'http or https'],
  ])('bad origin %s', async (origin, reason) => {
    const root = await makeRoot({ 'app.yml': `origin: "${origin}"\n` })
    const error = await loadError(root)
    expect(error.code).toBe('E_INVALID_SETTINGS')
    expect(error.message).toContain('key origin')
    expect(error.message).toContain(reason)
  })

  test('bad trusted origin names the index', async () => {
    const root = await makeRoot({
      'app.yml': 'trusted_origins: [https://a.example, https://b/x]\n',
    })
    const error = await loadError(root)
    expect(error.message).toContain('key trusted_origins[1]')
  })

  test('origins are normalized', async () => {
    const root = await makeRoot({
      'app.yml': 'origin: HTTPS://App.Example:443/\ntrusted_origins: [http://localhost:8000]\n',
    })
    const settings = await load(root)
    expect(settings.app.origin).toBe('https://app.example')
    expect(settings.app.trusted_origins).toEqual(['http://localhost:8000'])
  })

  test.each([
    ['10.0.0.0/33', 'prefix length over 32'],
    ['10.0.0.1/8', 'host bits set'],
    ['0.0.0.0/0', 'trusts every address'],
    ['proxy.internal', 'not an IP address'],
  ])('bad trusted proxy %s', async (entry, reason) => {
    const root = await makeRoot({ 'app.yml': `trusted_proxies: ["10.0.0.1", "${entry}"]\n` })
    const error = await loadError(root)
    expect(error.code).toBe('E_INVALID_SETTINGS')
    expect(error.message).toContain('key trusted_proxies[1]')
    expect(error.message).toContain(reason)
  })

  test('valid trusted proxies are kept', async () => {
    const root = await makeRoot({
      'app.yml': 'trusted_proxies: [10.0.0.0/8, "2001:db8::/32", loopback]\n',
    })
    const settings = await load(root)
    expect(settings.app.trusted_proxies).toEqual(['10.0.0.0/8', '2001:db8::/32', 'loopback'])
  })

  test('SANDBOXED says it is not in this release', async () => {
    const root = await makeRoot({ 'templates.yml': 'security_level: SANDBOXED\n' })
    const error = await loadError(root)
    expect(error.code).toBe('E_INVALID_SETTINGS')
    expect(error.message).toContain('key security_level is SANDBOXED')
    expect(error.message).toContain('not part of this release')
  })

  test('STRICT forces strict_undefined', async () => {
    const root = await makeRoot({ 'templates.yml': 'security_level: STRICT\n' })
    const settings = await load(root)
    expect(settings.templates.strict_undefined).toBe(true)
    expect(settings.templates.autoescape).toBe(true)
  })

  test('STRICT with autoescape off is an error', async () => {
    const root = await makeRoot({
      'templates.yml': 'security_level: STRICT\nautoescape: false\nstrict_undefined: false\n',
    })
    const error = await loadError(root)
    expect(error.message).toContain('key autoescape is false, but security_level STRICT')
    expect(error.message).toContain('key strict_undefined is false, but security_level STRICT')
  })

  test('idle timeout longer than lifetime', async () => {
    const root = await makeRoot({ 'app.yml': 'session_max_age: 600\nsession_idle_timeout: 900\n' })
    const error = await loadError(root)
    expect(error.message).toContain('key session_idle_timeout (900 s) is longer than')
  })

  test('CSP sources cannot inject directives', async () => {
    const root = await makeRoot({
      'middleware.yml': [
        'csp:',
        '  img-src: ["https://a.example; script-src *"]',
        '  script-src: ["\'nonce-abc\'"]',
        '  img-scr: [https://b.example]',
      ].join('\n'),
    })
    const error = await loadError(root)
    expect(error.message).toContain('key csp.img-src[0] must not contain spaces')
    expect(error.message).toContain('key csp.script-src[0] must not be a fixed nonce')
    expect(error.message).toContain('key csp.img-scr is not a CSP directive')
    expect(error.message).toContain('did you mean img-src?')
  })

  test('cookie name with a prefix is an error', async () => {
    const root = await makeRoot({ 'app.yml': 'session_cookie: __Host-session\n' })
    const error = await loadError(root)
    expect(error.message).toContain('key session_cookie must not carry a __Host-')
  })

  test('invalid secret value is not echoed', async () => {
    const root = await makeRoot({ 'app.yml': 'session_secret: 123456789\n' })
    const error = await loadError(root)
    expect(error.message).toContain('key session_secret must be a string')
    expect(error.message).not.toContain('123456789')
  })

  test('absolute template directory is an error', async () => {
    const root = await makeRoot({ 'templates.yml': 'directory: /etc\n' })
    const error = await loadError(root)
    expect(error.message).toContain('key directory must be relative')
  })
})

describe('settings files', () => {
  test('unknown yml file is an error', async () => {
    const root = await makeRoot({ 'midleware.yml': 'body_limit: 1\n', 'README.md': '# notes\n' })
    const error = await loadError(root)
    expect(error.code).toBe('E_INVALID_SETTINGS')
    expect(error.message).toContain('settings/midleware.yml is not a settings file')
    expect(error.message).toContain('middleware.yml')
    expect(error.message).not.toContain('README.md')
  })

  test('.yaml extension asks for a rename', async () => {
    const root = await makeRoot({ 'app.yaml': 'name: x\n' })
    const error = await loadError(root)
    expect(error.message).toContain('settings/app.yaml is not a settings file')
    expect(error.message).toContain('rename it to app.yml')
  })

  test('invalid YAML gives the line', async () => {
    const root = await makeRoot({ 'app.yml': 'name: Board\n  bad: [1, 2\n' })
    const error = await loadError(root)
    expect(error.code).toBe('E_INVALID_SETTINGS')
    expect(error.message).toContain('settings/app.yml is not valid YAML at line')
  })

  test('duplicate keys are errors', async () => {
    const root = await makeRoot({ 'app.yml': 'name: a\nname: b\n' })
    const error = await loadError(root)
    expect(error.message).toContain('settings/app.yml is not valid YAML')
  })

  test('top level must be a mapping', async () => {
    const root = await makeRoot({ 'app.yml': '- name\n- other\n' })
    const error = await loadError(root)
    expect(error.message).toContain('settings/app.yml must be a mapping')
  })

  test.each([
    ['__proto__: { polluted: true }\n', '__proto__'],
    ['constructor: { prototype: { polluted: true } }\n', 'constructor'],
    ['prototype: 1\n', 'prototype'],
  ])('prototype key %#', async (text, key) => {
    const root = await makeRoot({ 'app.yml': text })
    const error = await loadError(root)
    expect(error.code).toBe('E_INVALID_SETTINGS')
    expect(error.message).toContain(`settings/app.yml: key ${key} is not allowed`)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  test('nested prototype key is an error', async () => {
    const root = await makeRoot({ 'middleware.yml': 'csp:\n  __proto__: [x]\n' })
    const error = await loadError(root)
    expect(error.message).toContain('key csp.__proto__ is not allowed')
  })

  test('prototype key in overrides is an error', async () => {
    const overrides = JSON.parse('{"app": {"__proto__": {"polluted": true}}}')
    const error = await loadError(await makeRoot(), { overrides })
    expect(error.message).toContain('overrides: key app.__proto__ is not allowed')
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  test('alias bomb is rejected quickly', async () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for (let level = 1; level < 6; level++) {
      const previous = String.fromCharCode(96 + level)
      const name = String.fromCharCode(97 + level)
      lines.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(',')}]`)
    }
    const root = await makeRoot({ 'app.yml': `${lines.join('\n')}\n` })
    const started = performance.now()
    const error = await loadError(root)
    expect(performance.now() - started).toBeLessThan(2000)
    expect(error.code).toBe('E_INVALID_SETTINGS')
    expect(error.message).toContain('anchors and aliases')
  })

  test('a few aliases are allowed', async () => {
    const root = await makeRoot({
      'app.yml': 'trusted_origins: &origins [https://a.example]\n',
      'middleware.yml': 'csp:\n  img-src: &cdn [https://cdn.example]\n  font-src: *cdn\n',
    })
    const settings = await load(root)
    expect(settings.middleware.csp['font-src']).toEqual(['https://cdn.example'])
  })

  test.each([
    ['name: !!binary aGVsbG8=\n', 'uses the tag tag:yaml.org,2002:binary'],
    ['name: !!set { a }\n', 'uses the tag tag:yaml.org,2002:set'],
    ['name: !!js/function "function () {}"\n', 'js/function'],
    ['name: !custom value\n', '!custom'],
  ])('tag %# is rejected', async (text, tag) => {
    const root = await makeRoot({ 'app.yml': text })
    const error = await loadError(root)
    expect(error.code).toBe('E_INVALID_SETTINGS')
    expect(error.message).toContain(tag)
  })

  test('explicit str tag is allowed', async () => {
    const root = await makeRoot({ 'app.yml': 'name: !!str 2024\n' })
    expect((await load(root)).app.name).toBe('2024')
  })

  test('merge keys are not expanded', async () => {
    const root = await makeRoot({ 'app.yml': 'base: &base { name: x }\n<<: *base\n' })
    const error = await loadError(root)
    expect(error.message).toContain('key base is not a known setting')
    expect(error.message).toContain('key << is not a known setting')
  })

  test('collection keys are rejected', async () => {
    const root = await makeRoot({ 'app.yml': '? [a, b]\n: 1\n' })
    const error = await loadError(root)
    expect(error.message).toContain('key that is not a plain string')
  })
})

describe('overrides', () => {
  test('override file values', async () => {
    const root = await makeRoot({
      'app.yml': 'name: Board\n',
      'middleware.yml': 'csp:\n  img-src: [https://a.example]\n',
    })
    const settings = await load(root, {
      overrides: {
        app: { name: 'Override' },
        middleware: { csp: { 'font-src': ['https://f.example'] } },
      },
    })
    expect(settings.app.name).toBe('Override')
    expect(settings.middleware.csp).toEqual({
      'img-src': ['https://a.example'],
      'font-src': ['https://f.example'],
    })
  })

  test('invalid overrides name overrides', async () => {
    const overrides = { app: { session_max_age: 'x' }, aap: {} } as never
    const error = await loadError(await makeRoot(), { overrides })
    expect(error.message).toContain('overrides: key app.session_max_age must be')
    expect(error.message).toContain('overrides: key aap is not a settings section')
  })

  test('overrides are not interpolated', async () => {
    const settings = await load(await makeRoot(), {
      overrides: { app: { name: '${NAME}' } },
      environ: { NAME: 'x' },
    })
    expect(settings.app.name).toBe('${NAME}')
  })
})

describe('development secrets', () => {
  test('generated once and reused', async () => {
    const root = await makeRoot()
    const { logger, lines } = memoryLogger()
    const first = await load(root, { logger })

    expect(first.app.session_secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(first.app.csrf_secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(first.app.csrf_secret).not.toBe(first.app.session_secret)

    const file = join(root, '.fastblocks', 'secrets.json')
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(await readFile(join(root, '.fastblocks', '.gitignore'), 'utf8')).toBe('*\n')

    const second = await load(root)
    expect(second.app.session_secret).toBe(first.app.session_secret)
    expect(second.app.csrf_secret).toBe(first.app.csrf_secret)

    const log = lines.join('')
    expect(log).toContain('generated development secrets')
    expect(log).not.toContain(first.app.session_secret)
    expect(log).not.toContain(first.app.csrf_secret)
  })

  test('also generated in test', async () => {
    const root = await makeRoot()
    const settings = await load(root, { env: 'test' })
    expect(settings.app.session_secret).toHaveLength(43)
    expect((await stat(join(root, '.fastblocks', 'secrets.json'))).isFile()).toBe(true)
  })

  test('configured secrets are used as set', async () => {
    const session = strongSecret()
    const root = await makeRoot({ 'app.yml': `session_secret: ${session}\n` })
    const settings = await load(root)
    expect(settings.app.session_secret).toBe(session)
    expect(settings.app.csrf_secret).toHaveLength(43)
  })

  test('both configured writes no file', async () => {
    const root = await makeRoot({
      'app.yml': `session_secret: ${strongSecret()}\ncsrf_secret: ${strongSecret()}\n`,
    })
    await load(root)
    await expect(stat(join(root, '.fastblocks'))).rejects.toThrow()
  })

  test('empty default counts as not set', async () => {
    const root = await makeRoot({ 'app.yml': 'session_secret: ${SESSION_SECRET:-}\n' })
    const settings = await load(root)
    expect(settings.app.session_secret).toHaveLength(43)
  })

  test('persistSecrets false writes nothing', async () => {
    const root = await makeRoot()
    const settings = await load(root, { persistSecrets: false })
    expect(settings.app.session_secret).toHaveLength(43)
    await expect(stat(join(root, '.fastblocks'))).rejects.toThrow()
  })

  test('loose file mode is tightened', async () => {
    const root = await makeRoot()
    await load(root)
    const file = join(root, '.fastblocks', 'secrets.json')
    const { chmod } = await import('node:fs/promises')
    await chmod(file, 0o644)
    await load(root)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
  })

  test('corrupt secrets file is an error', async () => {
    const root = await makeRoot()
    await mkdir(join(root, '.fastblocks'))
    await writeFile(join(root, '.fastblocks', 'secrets.json'), '{"session_secret": "short"}')
    const error = await loadError(root)
    expect(error.code).toBe('E_INVALID_SETTINGS')
    expect(error.message).toContain('secrets.json')
  })

  test('concurrent first starts agree', async () => {
    const root = await makeRoot()
    const loaded = await Promise.all([load(root), load(root), load(root), load(root)])
    const values = new Set(loaded.map((settings) => settings.app.session_secret))
    expect(values.size).toBe(1)
  })

  test('weak configured secret logs a warning', async () => {
    const root = await makeRoot({ 'app.yml': 'session_secret: changeme\n' })
    const { logger, lines } = memoryLogger()
    await load(root, { logger })
    const log = lines.join('')
    expect(log).toContain('secret would be rejected in production')
    expect(log).toContain('session_secret')
    expect(log).not.toContain('changeme')
  })
})

describe('production secrets', () => {
  function productionRoot(app: Record<string, string | string[]>) {
    const text = Object.entries(app)
      .map(([key, value]) => `${key}: ${JSON.stringify(value)}`)
      .join('\n')
    return makeRoot({ 'app.yml': `${text}\n` })
  }

  async function weakSecretError(app: Record<string, string | string[]>) {
    const error = await loadError(await productionRoot(app), { env: 'production' })
    expect(error).toBeInstanceOf(WeakSecretError)
    expect(error.code).toBe('E_WEAK_SECRET')
    expect(error.message).toContain('npx fastblocks secret')
    return error as WeakSecretError
  }

  test('good secrets load', async () => {
    const root = await productionRoot({
      session_secret: strongSecret(),
      csrf_secret: strongSecret(),
      session_previous_secrets: [strongSecret()],
    })
    const settings = await load(root, { env: 'production' })
    expect(isProduction(settings)).toBe(true)
    expect(settings.templates.reload).toBe(false)
    expect(settings.app.log_level).toBe('info')
    await expect(stat(join(root, '.fastblocks'))).rejects.toThrow()
  })

  test('missing session secret', async () => {
    const error = await weakSecretError({ csrf_secret: strongSecret() })
    expect(error.setting).toBe('session_secret')
    expect(error.message).toContain('session_secret is not set')
  })

  test('missing csrf secret', async () => {
    const error = await weakSecretError({ session_secret: strongSecret() })
    expect(error.setting).toBe('csrf_secret')
  })

  test('short secret', async () => {
    const error = await weakSecretError({
      session_secret: strongSecret(),
      csrf_secret: strongSecret().slice(0, 31),
    })
    expect(error.setting).toBe('csrf_secret')
    expect(error.message).toContain('31 bytes')
  })

  test.each([
    'your-secret-key-change-me-in-production',
    'CHANGEME-CHANGEME-CHANGEME-CHANGEME',
    'secretsecretsecretsecretsecretsecret',
    'keyboard cat keyboard cat keyboard cat',
    'x'.repeat(40),
    'abababababababababababababababababab',
    'abcdefghijklmnopqrstuvwxyz0123456789',
  ])('placeholder %s', async (value) => {
    const error = await weakSecretError({ session_secret: value, csrf_secret: strongSecret() })
    expect(error.setting).toBe('session_secret')
  })

  test('equal secrets', async () => {
    const secret = strongSecret()
    const error = await weakSecretError({ session_secret: secret, csrf_secret: secret })
    expect(error.setting).toBe('csrf_secret')
    expect(error.message).toContain('same value as session_secret')
  })

  test('weak previous secret', async () => {
    const error = await weakSecretError({
      session_secret: strongSecret(),
      csrf_secret: strongSecret(),
      session_previous_secrets: ['changeme'],
    })
    expect(error.setting).toBe('session_previous_secrets[0]')
  })

  test('previous secret equal to current', async () => {
    const secret = strongSecret()
    const error = await weakSecretError({
      session_secret: secret,
      csrf_secret: strongSecret(),
      session_previous_secrets: [secret],
    })
    expect(error.setting).toBe('session_previous_secrets[0]')
  })

  test('development secrets file is never read', async () => {
    const root = await makeRoot()
    await load(root)
    const error = await loadError(root, { env: 'production' })
    expect(error.code).toBe('E_WEAK_SECRET')
    expect((error as WeakSecretError).setting).toBe('session_secret')
  })

  test('NODE_ENV production applies the checks', async () => {
    const error = await loadError(await makeRoot(), { environ: { NODE_ENV: 'production' } })
    expect(error.code).toBe('E_WEAK_SECRET')
  })

  test('settings problems come before secret checks', async () => {
    const root = await makeRoot({ 'app.yml': 'session_max_age: 0\n' })
    const error = await loadError(root, { env: 'production' })
    expect(error.code).toBe('E_INVALID_SETTINGS')
  })
})

describe('secretWeakness', () => {
  test('generated secrets pass', () => {
    for (let round = 0; round < 200; round++) {
      expect(secretWeakness(strongSecret())).toBeUndefined()
      expect(secretWeakness(randomBytes(32).toString('hex'))).toBeUndefined()
    }
  })

  test('counts bytes, not characters', () => {
    expect(secretWeakness('é'.repeat(16))).toBe(
      'has too little character variety (1 distinct characters)',
    )
    expect(secretWeakness('é'.repeat(15))).toContain('30 bytes')
  })

  test.each([
    [undefined, 'is not set'],
    ['', 'is not set'],
    ['short', 'shorter than the minimum'],
    ['Development-Development-Development', 'placeholder'],
    ['0123456789012345678901234567890123', 'repeats a short pattern'],
    ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbb', 'character variety'],
  ])('%j is weak', (value, reason) => {
    expect(secretWeakness(value)).toContain(reason)
  })
})

describe('fastblocks command', () => {
  const bin = join(REPOSITORY, 'bin', 'fastblocks.js')
  const source = ['--conditions=source', '--import', 'tsx']

  test('secret prints 32 random bytes', async () => {
    const first = await run(process.execPath, [bin, 'secret'])
    const second = await run(process.execPath, [bin, 'secret'])
    const value = first.stdout.trim()
    expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(Buffer.from(value, 'base64url')).toHaveLength(32)
    expect(second.stdout.trim()).not.toBe(value)
    expect(secretWeakness(value)).toBeUndefined()
  })

  test('help lists the commands', async () => {
    const { stdout } = await run(process.execPath, [bin, '--help'])
    expect(stdout).toContain('secret')
    expect(stdout).toContain('check [root]')
  })

  test('unknown command exits 2', async () => {
    const failure = await run(process.execPath, [bin, 'nope']).catch((error: unknown) => error)
    expect((failure as { code: number }).code).toBe(2)
  })

  test('check accepts valid settings', async () => {
    const root = await makeRoot({ 'app.yml': 'name: Board\n' })
    const { stdout } = await run(process.execPath, [...source, bin, 'check', root], {
      cwd: REPOSITORY,
    })
    expect(stdout.trim()).toBe('settings OK')
    await expect(stat(join(root, '.fastblocks'))).rejects.toThrow()
  })

  test('check prints problems and exits 1', async () => {
    const root = await makeRoot({ 'app.yml': 'sesion_secret: x\n' })
    const failure = (await run(process.execPath, [...source, bin, 'check', root], {
      cwd: REPOSITORY,
    }).catch((error: unknown) => error)) as { code: number; stderr: string }
    expect(failure.code).toBe(1)
    expect(failure.stderr).toContain('did you mean session_secret?')
  })

  test('check --env production reports weak secrets', async () => {
    const root = await makeRoot()
    const failure = (await run(
      process.execPath,
      [...source, bin, 'check', '--env', 'production', root],
      { cwd: REPOSITORY },
    ).catch((error: unknown) => error)) as { code: number; stderr: string }
    expect(failure.code).toBe(1)
    expect(failure.stderr).toContain('session_secret is not set')
  })
})
