import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { existsSync } from 'node:fs'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startBoard, type RunningBoard } from '../helpers/board.ts'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const available = existsSync(CHROMIUM)
if (!available && process.env.CI) {
  throw new Error(`Chromium not found at ${CHROMIUM}; install Debian's chromium package`)
}
if (!available) console.warn(`skipping browser tests: no Chromium at ${CHROMIUM}`)

let browser: Browser

beforeAll(async () => {
  if (!available) return
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}, 60_000)

afterAll(async () => {
  await browser?.close()
})

/** Serves a page on a second loopback origin whose form posts to the board on load. */
async function startAttackerSite(target: string): Promise<{ url: string; server: Server }> {
  const server = createServer((_request, response) => {
    response.setHeader('Content-Type', 'text/html')
    response.end(
      `<!doctype html><form id="f" method="post" action="${target}/notes">` +
        `<input name="body" value="forged from another origin"></form>` +
        `<script>document.getElementById('f').submit()</script>`,
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/`, server }
}

/** Opens a page that records console errors and CSP violations. */
async function openPage(): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext()
  const page = await context.newPage()
  const problems: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`)
  })
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`)
    })
  })
  return { page, problems }
}

for (const htmxVersion of [4, 2] as const) {
  describe.skipIf(!available)(`board in the browser with htmx ${htmxVersion}`, () => {
    let board: RunningBoard

    beforeAll(async () => {
      board = await startBoard({ htmxVersion })
    })

    afterAll(async () => {
      await board?.close()
    })

    test('adding a note swaps the list without navigation', async () => {
      const { page, problems } = await openPage()
      await page.goto(`${board.url}/`)
      await page.waitForFunction(() => 'htmx' in window)
      await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42))
      const before = await board.noteCount()

      await page.fill('#note-body', `note from htmx ${htmxVersion}`)
      await page.click('#add-note button[type=submit]')
      await page.waitForSelector(`#note-list li:has-text("note from htmx ${htmxVersion}")`)

      const marker = await page.evaluate(() => (window as unknown as { marker?: number }).marker)
      expect(marker).toBe(42)
      expect(await board.noteCount()).toBe(before + 1)
      expect(await page.inputValue('#note-body')).toBe('')
      expect(problems).toEqual([])
      await page.context().close()
    })

    test('token stays valid after boosted navigation and a new session', async () => {
      const { page, problems } = await openPage()
      await page.goto(`${board.url}/`)
      await page.waitForFunction(() => 'htmx' in window)
      await page.evaluate(() => ((window as unknown as { marker: number }).marker = 7))

      // A new session voids every token the page holds.
      await page.click('#forget')
      await page.waitForSelector('#counter strong:has-text("0")')

      // Boosted navigation swaps the body only.
      await page.click('nav a[href="/about"]')
      await page.waitForSelector('#quick-note')
      expect(new URL(page.url()).pathname).toBe('/about')

      const before = await board.noteCount()
      await page.fill('#quick-body', `after boost ${htmxVersion}`)
      await page.click('#quick-note button[type=submit]')
      await page.waitForSelector(`#quick-result :text("after boost ${htmxVersion}")`)
      expect(await board.noteCount()).toBe(before + 1)

      const marker = await page.evaluate(() => (window as unknown as { marker?: number }).marker)
      expect(marker).toBe(7)
      expect(problems).toEqual([])
      await page.context().close()
    })

    test('rejected htmx post shows its message', async () => {
      const { page } = await openPage()
      await page.goto(`${board.url}/`)
      await page.waitForFunction(() => 'htmx' in window)
      const before = await board.noteCount()

      // Spaces pass the browser's `required` check, and the server rejects them.
      await page.fill('#note-body', '   ')
      await page.click('#add-note button[type=submit]')
      const alert = page.locator('[data-fastblocks-errors]')
      await alert.waitFor()

      expect(await alert.textContent()).toContain('A note needs 1 to 500 characters')
      expect(await page.locator('#note-list').count()).toBe(1)
      expect(await board.noteCount()).toBe(before)
      await page.context().close()
    })

    test('form posted from another origin is rejected', async () => {
      const attacker = await startAttackerSite(board.url)
      try {
        const { page } = await openPage()
        // The victim has a session on the board first.
        await page.goto(`${board.url}/`)
        const before = await board.noteCount()

        const response = page.waitForResponse((r) => r.url() === `${board.url}/notes`)
        await page.goto(attacker.url)
        expect((await response).status()).toBe(403)
        expect(await board.noteCount()).toBe(before)
        await page.context().close()
      } finally {
        attacker.server.close()
      }
    })
  })
}
