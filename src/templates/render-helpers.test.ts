import nunjucks from 'nunjucks'
import { describe, expect, test } from 'vitest'
import { markSafe } from './index.ts'
import { nunjucksEscape } from './nunjucks-internals.ts'
import { escapeHtml, outputValue, setLoopVariables, type RuntimeFrame } from './render-helpers.ts'

/** The run-time Frame and output function of Nunjucks, which @types/nunjucks does not describe. */
const stockRuntime = nunjucks.runtime as unknown as {
  Frame: new () => RuntimeFrame & {
    set(name: string, value: unknown): void
    lookup(name: string): unknown
  }
  suppressValue(value: unknown, autoescape: boolean): unknown
}
const { Frame, suppressValue } = stockRuntime

/** Returns a function that yields the same pseudo-random numbers in [0, 1) on every run. */
function seededRandom(seed: number): () => number {
  let state = seed
  return () => {
    // A 32-bit linear congruential generator.
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
}

describe('escapeHtml', () => {
  test('replaces each special character', () => {
    expect(escapeHtml('&')).toBe('&amp;')
    expect(escapeHtml('"')).toBe('&quot;')
    expect(escapeHtml("'")).toBe('&#39;')
    expect(escapeHtml('<')).toBe('&lt;')
    expect(escapeHtml('>')).toBe('&gt;')
    expect(escapeHtml('\\')).toBe('&#92;')
  })

  test('returns text without special characters unchanged', () => {
    expect(escapeHtml('')).toBe('')
    expect(escapeHtml('plain')).toBe('plain')
    expect(escapeHtml('x'.repeat(500))).toBe('x'.repeat(500))
  })

  test('matches Nunjucks for generated strings', () => {
    // Lengths cross the 32-character threshold where a RegExp search comes first.
    const alphabet = ['a', 'Z', ' ', '0', 'é', '😀', '&', '"', "'", '<', '>', '\\', '/', '=', ';']
    const random = seededRandom(1)
    for (let count = 0; count < 3000; count += 1) {
      const length = Math.floor(random() * 80)
      const specialShare = random()
      let text = ''
      for (let index = 0; index < length; index += 1) {
        text +=
          random() < specialShare
            ? (alphabet[6 + Math.floor(random() * 6)] ?? '')
            : (alphabet[Math.floor(random() * alphabet.length)] ?? '')
      }
      expect(escapeHtml(text), JSON.stringify(text)).toBe(nunjucksEscape(text))
    }
  })

  test('matches Nunjucks with one special character at each position', () => {
    for (const special of ['&', '"', "'", '<', '>', '\\']) {
      for (let position = 0; position < 70; position += 1) {
        const text = `${'w'.repeat(position)}${special}${'v'.repeat(69 - position)}`
        expect(escapeHtml(text), `${special} at ${position}`).toBe(nunjucksEscape(text))
      }
    }
  })
})

describe('outputValue', () => {
  const values: [string, unknown][] = [
    ['string', '<a href="x">'],
    ['empty string', ''],
    ['number', 3.5],
    ['zero', 0],
    ['false', false],
    ['null', null],
    ['undefined', undefined],
    ['array', ['<', '&']],
    ['object with toString', { toString: () => '"quoted"' }],
    ['SafeString', markSafe('<b>')],
  ]

  for (const [name, value] of values) {
    test(`${name} matches suppressValue`, () => {
      expect(outputValue(value, true)).toEqual(suppressValue(value, true))
      expect(outputValue(value, false)).toBe(suppressValue(value, false))
    })
  }

  test('returns a SafeString itself', () => {
    const safe = markSafe('<b>')
    expect(outputValue(safe, true)).toBe(safe)
  })

  test('raises as Nunjucks when toString returns no string', () => {
    const value = { toString: () => 1 }
    let stockError: unknown
    try {
      suppressValue(value, true)
    } catch (error) {
      stockError = error
    }
    expect(stockError).toBeInstanceOf(TypeError)
    expect(() => outputValue(value, true)).toThrow((stockError as TypeError).message)
  })
})

describe('setLoopVariables', () => {
  test('sets the values of frame.set for each iteration', () => {
    const fast = new Frame()
    const stock = new Frame()
    for (let index = 0; index < 3; index += 1) {
      setLoopVariables(fast, index, 3)
      stock.set('loop.index', index + 1)
      stock.set('loop.index0', index)
      stock.set('loop.revindex', 3 - index)
      stock.set('loop.revindex0', 3 - index - 1)
      stock.set('loop.first', index === 0)
      stock.set('loop.last', index === 3 - 1)
      stock.set('loop.length', 3)
      expect(fast.lookup('loop')).toEqual(stock.lookup('loop'))
    }
  })

  test('keeps one loop object across iterations', () => {
    const frame = new Frame()
    setLoopVariables(frame, 0, 2)
    const first = frame.lookup('loop')
    setLoopVariables(frame, 1, 2)
    expect(frame.lookup('loop')).toBe(first)
  })

  test('replaces a falsy loop and raises for a primitive one', () => {
    const frame = new Frame()
    frame.set('loop', 0)
    setLoopVariables(frame, 0, 1)
    expect(frame.lookup('loop')).toMatchObject({ index: 1, length: 1 })
    frame.set('loop', 'text')
    expect(() => {
      setLoopVariables(frame, 0, 1)
    }).toThrow(TypeError)
  })
})
