import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const source = fileURLToPath(new URL('./src/', import.meta.url))

export default defineConfig({
  resolve: {
    conditions: ['source'],
    // Tests and examples import the package by its own name, as users do; Vite does not
    // resolve a package's import of itself, so the subpaths point at the sources here.
    alias: [
      { find: /^fastblocks$/, replacement: `${source}index.ts` },
      { find: /^fastblocks\/(.+)$/, replacement: `${source}$1/index.ts` },
    ],
  },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
})
