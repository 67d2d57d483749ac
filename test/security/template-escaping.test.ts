import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { startFixture, type RunningFixture } from '../helpers/fixture-app.ts'

let fixture: RunningFixture

beforeAll(async () => {
  fixture = await startFixture()
})

afterAll(async () => {
  await fixture?.close()
})

const SCRIPT = '<script>alert(1)</script>'
const IMAGE = '<img src=x onerror=alert(1)>'

describe('autoescape of non-string values', () => {
  for (const key of ['name[]', 'name[0]']) {
    test(`array from ${key} is escaped`, async () => {
      const query = `${encodeURIComponent(key)}=${encodeURIComponent(SCRIPT)}`
      const html = await (await fetch(`${fixture.url}/hello?${query}`)).text()
      expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
      expect(html).not.toContain(SCRIPT)
    })
  }

  test('object with html toString is escaped', async () => {
    const query = `${encodeURIComponent('name[x]')}=${encodeURIComponent(IMAGE)}`
    const html = await (await fetch(`${fixture.url}/hello?${query}`)).text()
    expect(html).toContain('&lt;img')
    expect(html).not.toContain('<img')
  })
})

describe('json inside a script element', () => {
  const payloads = ['</script><script>alert(1)//', '<!--<script>', 'line\u2028separator\u2029end']

  for (const payload of payloads) {
    test(`payload ${JSON.stringify(payload)} stays inside the script`, async () => {
      const html = await (
        await fetch(`${fixture.url}/data?payload=${encodeURIComponent(payload)}`)
      ).text()
      const match = /<script nonce="[^"]+">const data = (.*?);<\/script>/s.exec(html)
      expect(match).not.toBeNull()
      const embedded = match![1]!
      expect(embedded).not.toMatch(/<\/script/i)
      expect(embedded).not.toContain('<!--')
      expect(embedded).not.toContain('\u2028')
      expect(embedded).not.toContain('\u2029')
      expect(JSON.parse(embedded)).toBe(payload)
    })
  }
})
