#!/usr/bin/env node
// The `fastblocks` command. Plain JavaScript so that it runs without a build step; only
// `check` needs the compiled package (dist/), which it loads through the package's own
// exports so that a source checkout can run it with `node --conditions=source --import tsx`.

import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'

const USAGE = `Usage: fastblocks <command> [options]

Commands:
  secret             Print a new secret: 32 random bytes, base64url encoded (43 characters).
                     Use it for session_secret, csrf_secret and other secrets.
  check [root]       Load and validate the settings of the application in root (default: the
                     current folder) and print every problem, or "settings OK".

Options:
  --env <name>       With check: validate for development, test or production (default:
                     NODE_ENV, else env in settings/app.yml, else development).
  -h, --help         Show this help.
  -v, --version      Print the FastBlocks version.
`

const ENVIRONMENTS = ['development', 'test', 'production']

async function main(argv) {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        env: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    })
  } catch (error) {
    return usageError(error.message)
  }
  const { values, positionals } = parsed
  const [command, ...rest] = positionals

  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  if (values.version) {
    // eslint-disable-next-line security/detect-non-literal-fs-filename -- this package's own manifest
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
    process.stdout.write(`${manifest.version}\n`)
    return 0
  }

  switch (command) {
    case 'secret':
      if (rest.length > 0) return usageError('secret takes no arguments')
      process.stdout.write(`${randomBytes(32).toString('base64url')}\n`)
      return 0
    case 'check':
      if (rest.length > 1) return usageError('check takes at most one root folder')
      if (values.env !== undefined && !ENVIRONMENTS.includes(values.env)) {
        return usageError(`--env must be development, test or production, not "${values.env}"`)
      }
      return check(rest[0] ?? '.', values.env)
    case undefined:
      process.stdout.write(USAGE)
      return 0
    default:
      return usageError(`unknown command "${command}"`)
  }
}

async function check(rootArgument, env) {
  const config = await importConfig()
  if (config === undefined) return 1

  const root = resolve(rootArgument)
  try {
    // persistSecrets: false, so that a check never creates .fastblocks/secrets.json.
    await config.loadSettings({ root, env, persistSecrets: false })
  } catch (error) {
    // Settings problems carry a code and a message meant for the user; anything else is a bug.
    if (error?.code === 'E_INVALID_SETTINGS' || error?.code === 'E_WEAK_SECRET') {
      process.stderr.write(`${error.message}\n`)
      return 1
    }
    throw error
  }
  process.stdout.write('settings OK\n')
  return 0
}

async function importConfig() {
  try {
    return await import('fastblocks/config')
  } catch (error) {
    if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist')) {
      process.stderr.write(
        'fastblocks: the compiled package is missing (dist/config/index.js); ' +
          'run `npm run build` first\n',
      )
      return undefined
    }
    throw error
  }
}

function usageError(message) {
  process.stderr.write(`fastblocks: ${message}\n\n${USAGE}`)
  return 2
}

process.exitCode = await main(process.argv.slice(2))
