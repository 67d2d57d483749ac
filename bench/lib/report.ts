/**
 * Summaries of the runs and the Markdown that the runner prints and writes to RESULTS.md.
 */
import { readFileSync } from 'node:fs'
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { LoadSample } from './load.ts'

/** Figures of one stack on one endpoint over all rounds. */
export interface StackSummary {
  stack: string
  /** Median over rounds. */
  requestsPerSecond: number
  /** Lowest and highest requests per second among the rounds. */
  requestsPerSecondRange: [number, number]
  /** Median over rounds of each round's p50, in milliseconds. */
  p50: number
  /** Median over rounds of each round's p99, in milliseconds. */
  p99: number
  /** Median over rounds of the server's CPU time per request, in microseconds. */
  cpuPerRequest: number
  /** Peak RSS of the server process during this endpoint's warm-up and rounds, in bytes. */
  peakRss: number
  rounds: number
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  if (sorted.length === 0) return Number.NaN
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
}

export function summarize(
  stack: string,
  samples: readonly LoadSample[],
  peakRss: number,
): StackSummary {
  return {
    stack,
    requestsPerSecond: median(samples.map((sample) => sample.requestsPerSecond)),
    requestsPerSecondRange: [
      Math.min(...samples.map((sample) => sample.requestsPerSecond)),
      Math.max(...samples.map((sample) => sample.requestsPerSecond)),
    ],
    p50: median(samples.map((sample) => sample.p50)),
    p99: median(samples.map((sample) => sample.p99)),
    cpuPerRequest: median(samples.map((sample) => sample.cpuPerRequest)),
    peakRss,
    rounds: samples.length,
  }
}

function ratio(value: number, baseline: number | undefined): string {
  if (baseline === undefined || baseline === 0 || !Number.isFinite(value)) return 'n/a'
  return `${(value / baseline).toFixed(2)}×`
}

function formatNumber(value: number, digits: number): string {
  return value.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  })
}

/**
 * Builds the Markdown table of one endpoint. Each figure is followed by its ratio to the
 * baseline stack's figure (value divided by the baseline's).
 */
export function endpointTable(
  title: string,
  summaries: readonly StackSummary[],
  baseline: string,
): string {
  const base = summaries.find((summary) => summary.stack === baseline)
  const lines = [
    `### ${title}`,
    '',
    `| stack | req/s | ÷ ${baseline} | rounds' req/s | CPU µs/req | ÷ ${baseline} | p50 ms | ÷ ${baseline} | p99 ms | ÷ ${baseline} | peak RSS MiB | ÷ ${baseline} |`,
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ]
  for (const summary of summaries) {
    const rssMiB = summary.peakRss / 1024 / 1024
    const [low, high] = summary.requestsPerSecondRange
    lines.push(
      `| ${summary.stack} ` +
        `| ${formatNumber(summary.requestsPerSecond, 0)} | ${ratio(summary.requestsPerSecond, base?.requestsPerSecond)} ` +
        `| ${formatNumber(low, 0)}–${formatNumber(high, 0)} ` +
        `| ${formatNumber(summary.cpuPerRequest, 0)} | ${ratio(summary.cpuPerRequest, base?.cpuPerRequest)} ` +
        `| ${formatNumber(summary.p50, 2)} | ${ratio(summary.p50, base?.p50)} ` +
        `| ${formatNumber(summary.p99, 2)} | ${ratio(summary.p99, base?.p99)} ` +
        `| ${formatNumber(rssMiB, 1)} | ${ratio(summary.peakRss, base?.peakRss)} |`,
    )
  }
  return lines.join('\n')
}

/** Returns the CPU model from /proc/cpuinfo, or from os.cpus() where that file is missing. */
export function cpuModel(): string {
  try {
    const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
    const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]
    if (model !== undefined) return model.trim()
  } catch {
    // Not Linux: fall through to os.cpus().
  }
  return cpus()[0]?.model ?? 'unknown'
}

const nodeModules = fileURLToPath(new URL('../../node_modules/', import.meta.url))

/**
 * Returns the installed version of a package, read from node_modules/<name>/package.json directly,
 * because packages with an `exports` map (helmet, hono) do not export their package.json.
 */
export function packageVersion(name: string): string {
  try {
    const manifest = JSON.parse(readFileSync(join(nodeModules, name, 'package.json'), 'utf8')) as {
      version?: string
    }
    return manifest.version ?? '?'
  } catch {
    return 'not installed'
  }
}

export interface MachineDescription {
  date: string
  node: string
  cpu: string
  cores: number
  memoryGiB: number
  kernel: string
  /** One-minute load average when the run started: other work on the machine shows here. */
  loadAverage: number
}

export function describeMachine(): MachineDescription {
  return {
    date: new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC',
    node: process.version,
    cpu: cpuModel(),
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    kernel: release(),
    loadAverage: loadavg()[0] ?? Number.NaN,
  }
}
