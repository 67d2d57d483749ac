/**
 * Benchmarks FastBlocks beside Express, Fastify, Hono and bare node:http on the same
 * workload. Each stack runs as its own child process and is checked for correctness first.
 * Then autocannon loads the stacks from this process, endpoint by endpoint, in rounds that
 * alternate between the stacks. Prints one table per endpoint and writes them to RESULTS.md.
 *
 * Run `npm run bench -- --help` for the options.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { checkStack, type LoadFixture } from './lib/checks.ts'
import { compileStacks } from './lib/compile-stacks.ts'
import { endpoints, runLoad, type Endpoint, type LoadSample } from './lib/load.ts'
import {
  describeMachine,
  endpointTable,
  packageVersion,
  summarize,
  type MachineDescription,
  type StackSummary,
} from './lib/report.ts'
import { StackProcess } from './lib/stack-process.ts'
import { stackDefinitions, type StackDefinition } from './lib/stacks.ts'

const usage = `Usage: npm run bench -- [options]

  --duration <s>      seconds of each measured round per stack and endpoint (default 3)
  --rounds <n>        measured rounds per stack and endpoint; the table shows medians (default 5)
  --warmup <s>        seconds of unmeasured load per stack before each endpoint (default 2)
  --connections <n>   concurrent keep-alive connections (default 50)
  --stacks <list>     comma-separated stacks (default ${stackDefinitions.map((stack) => stack.name).join(',')})
  --endpoints <list>  comma-separated endpoints (default ${endpoints.map((endpoint) => endpoint.name).join(',')})
  --baseline <stack>  stack the ratios divide by, one of --stacks (default fastblocks when it
                      runs, else the first stack)
  --quick             about one minute: --duration 1 --rounds 2 --warmup 1; options given
                      explicitly replace these
  --no-pin            do not pin the servers and this process to separate CPUs
  --output <file>     where to write the tables (default bench/RESULTS.md)
  --no-write          print the run description and the tables, and write no file
  --help              show this text
`

interface RunOptions {
  duration: number
  rounds: number
  warmup: number
  connections: number
  stacks: StackDefinition[]
  endpoints: Endpoint[]
  baseline: string
  pin: boolean
  output: string | undefined
  quick: boolean
}

function positiveNumber(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback
  const value = Number(text)
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`--${name} must be a positive number, got "${text}"`)
  }
  return value
}

function pickByName<T extends { name: string }>(
  kind: string,
  all: readonly T[],
  list: string | undefined,
): T[] {
  if (list === undefined) return [...all]
  return list.split(',').map((name) => {
    const found = all.find((item) => item.name === name.trim())
    if (found === undefined) {
      throw new Error(
        `unknown ${kind} "${name}"; known: ${all.map((item) => item.name).join(', ')}`,
      )
    }
    return found
  })
}

function parseOptions(argv: string[]): RunOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      stacks: { type: 'string' },
      endpoints: { type: 'string' },
      baseline: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'no-pin': { type: 'boolean', default: false },
      output: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(usage)
    return undefined
  }
  const quick = values.quick
  const stacks = pickByName('stack', stackDefinitions, values.stacks)
  if (values.baseline !== undefined && !stacks.some((stack) => stack.name === values.baseline)) {
    throw new Error(
      `--baseline ${values.baseline} is not among the stacks being run (${stacks
        .map((stack) => stack.name)
        .join(', ')}); add it to --stacks or choose one of those`,
    )
  }
  const baseline =
    values.baseline ??
    (stacks.some((stack) => stack.name === 'fastblocks') ? 'fastblocks' : (stacks[0]?.name ?? ''))
  return {
    duration: positiveNumber('duration', values.duration, quick ? 1 : 3),
    rounds: Math.round(positiveNumber('rounds', values.rounds, quick ? 2 : 5)),
    warmup: positiveNumber('warmup', values.warmup, quick ? 1 : 2),
    connections: Math.round(positiveNumber('connections', values.connections, 50)),
    stacks,
    endpoints: pickByName('endpoint', endpoints, values.endpoints),
    baseline,
    pin: !values['no-pin'],
    output: values['no-write']
      ? undefined
      : (values.output ?? fileURLToPath(new URL('RESULTS.md', import.meta.url))),
    quick,
  }
}

/**
 * Chooses CPUs when pinning is possible: this process (the load generator) on CPU 0 and the
 * servers on the last CPU, so that the two never take turns on one core.
 */
function pinCpus(wanted: boolean, cores: number): { server: number | undefined; note: string } {
  if (!wanted) return { server: undefined, note: 'not pinned (--no-pin)' }
  if (cores < 2) return { server: undefined, note: 'not pinned (one CPU)' }
  try {
    execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' })
  } catch {
    return { server: undefined, note: 'not pinned (taskset failed or is missing)' }
  }
  const server = cores - 1
  return { server, note: `load generator on CPU 0, each server on CPU ${server} (taskset)` }
}

function secretHex(): string {
  return randomBytes(32).toString('hex')
}

function log(message: string): void {
  process.stderr.write(`${message}\n`)
}

/** Rotates the stack order by one place each round, so no stack always runs first or last. */
function rotated<T>(items: readonly T[], by: number): T[] {
  const shift = by % items.length
  return [...items.slice(shift), ...items.slice(0, shift)]
}

async function measureEndpoint(
  endpoint: Endpoint,
  running: readonly { stack: StackDefinition; process: StackProcess; fixture: LoadFixture }[],
  options: RunOptions,
): Promise<StackSummary[]> {
  const samples = new Map<string, LoadSample[]>(running.map((entry) => [entry.stack.name, []]))
  for (const entry of running) entry.process.startMemoryWatch()

  for (const entry of running) {
    log(`  warm-up ${entry.stack.name} ${options.warmup}s`)
    await runLoad(
      entry.process.baseUrl,
      endpoint,
      entry.fixture,
      { duration: options.warmup, connections: options.connections },
      () => entry.process.cpuMicroseconds(),
    )
  }
  for (let round = 0; round < options.rounds; round += 1) {
    for (const entry of rotated(running, round)) {
      const sample = await runLoad(
        entry.process.baseUrl,
        endpoint,
        entry.fixture,
        { duration: options.duration, connections: options.connections },
        () => entry.process.cpuMicroseconds(),
      )
      samples.get(entry.stack.name)?.push(sample)
      log(
        `  round ${round + 1}/${options.rounds} ${entry.stack.name}: ` +
          `${Math.round(sample.requestsPerSecond)} req/s, p50 ${sample.p50.toFixed(2)} ms, ` +
          `p99 ${sample.p99.toFixed(2)} ms, ${Math.round(sample.cpuPerRequest)} µs CPU/request`,
      )
    }
  }
  return running.map((entry) =>
    summarize(
      entry.stack.name,
      samples.get(entry.stack.name) ?? [],
      entry.process.stopMemoryWatch(),
    ),
  )
}

function renderResults(
  options: RunOptions,
  machine: MachineDescription,
  pinning: string,
  tables: string[],
  command: string,
): string {
  const stackLines = options.stacks.map(
    (stack) =>
      `- ${stack.name}: ${stack.packages.map((name) => `${name} ${packageVersion(name)}`).join(', ')}`,
  )
  return [
    '# Benchmark results',
    '',
    'Latest run of `bench/run.ts`; see bench/README.md for what is measured and how to read it.',
    '',
    `- date: ${machine.date}`,
    `- command: \`${command}\``,
    `- node: ${machine.node}, kernel ${machine.kernel}`,
    `- CPU: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB memory`,
    `- CPU pinning: ${pinning}`,
    `- one-minute load average: ${machine.loadAverage.toFixed(2)} at the start, ` +
      `${loadavg()[0]?.toFixed(2)} at the end (this run alone keeps about 2 busy; more means other processes shared the CPUs)`,
    `- load: autocannon ${packageVersion('autocannon')} in the runner process (no workers), ` +
      `${options.connections} connections, ${options.warmup} s warm-up, ` +
      `${options.rounds} round(s) of ${options.duration} s per stack, stacks alternating`,
    `- figures: median over rounds; RSS is the server process's peak (VmHWM) during the endpoint`,
    `- ratios: the stack's figure divided by the same figure of ${options.baseline}`,
    '',
    'Stacks and package versions:',
    '',
    ...stackLines,
    '',
    ...tables.flatMap((table) => [table, '']),
  ].join('\n')
}

async function main(): Promise<void> {
  let options: RunOptions | undefined
  try {
    options = parseOptions(process.argv.slice(2))
  } catch (error) {
    // A wrong option needs its message and the usage, not a stack trace.
    log(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`)
    process.exitCode = 2
    return
  }
  if (options === undefined) return
  const machine = describeMachine()
  const pinning = pinCpus(options.pin, machine.cores)
  const perEndpoint = options.stacks.length * (options.warmup + options.rounds * options.duration)
  const loadSeconds = options.endpoints.length * perEndpoint
  log(
    `node ${machine.node}, ${machine.cpu}, ${machine.cores} cores; ${pinning.note}; ` +
      `about ${loadSeconds < 90 ? `${Math.round(loadSeconds)} s` : `${Math.round(loadSeconds / 60)} min`} of load`,
  )

  const env = {
    NODE_ENV: 'production',
    BENCH_SESSION_SECRET: secretHex(),
    BENCH_CSRF_SECRET: secretHex(),
  }
  const processes: StackProcess[] = []
  const running: { stack: StackDefinition; process: StackProcess; fixture: LoadFixture }[] = []
  const stopAll = () => Promise.all(processes.map((child) => child.stop()))
  process.once('SIGINT', () => {
    void stopAll().then(() => process.exit(130))
  })
  // Hard bound: the planned load, plus half of it and two minutes for start-up and checks.
  const deadlineMs = (loadSeconds * 1.5 + 120) * 1000
  setTimeout(() => {
    log(`stopped: the run exceeded its bound of ${Math.round(deadlineMs / 1000)} s`)
    void stopAll().then(() => process.exit(1))
  }, deadlineMs).unref()

  try {
    const compiledStacksDir = compileStacks()
    for (const stack of options.stacks) {
      const started = await StackProcess.start(stack.name, {
        compiledStacksDir,
        env,
        cpu: pinning.server,
      })
      processes.push(started)
      const fixture = await checkStack(stack, started.baseUrl, started.port)
      running.push({ stack, process: started, fixture })
      const { rss } = started.memory()
      log(
        `${stack.name}: listening on ${started.port}, checks passed, RSS ${Math.round(rss / 2 ** 20)} MiB`,
      )
    }

    const tables: string[] = []
    for (const endpoint of options.endpoints) {
      log(`\n${endpoint.title}`)
      const summaries = await measureEndpoint(endpoint, running, options)
      const table = endpointTable(endpoint.title, summaries, options.baseline)
      tables.push(table)
      process.stdout.write(`\n${table}\n`)
    }

    const command = [
      'npm run bench',
      ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : []),
    ].join(' ')
    const results = renderResults(options, machine, pinning.note, tables, command)
    if (options.output === undefined) {
      // The tables were printed already; the description gives the load averages and versions.
      process.stdout.write(`\n${results.slice(0, results.indexOf('\n### '))}\n`)
    } else {
      writeFileSync(options.output, results)
      log(`\nwrote ${options.output}`)
    }
  } catch (error) {
    for (const child of processes) {
      const output = child.recentOutput().trim()
      if (output !== '') log(`--- recent output of ${child.name} ---\n${output}`)
    }
    throw error
  } finally {
    await stopAll()
  }
}

await main()
