/**
 * One stack running as its own child process, so that its memory is measured alone.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url))
const listeningLine = /^BENCH_LISTENING port=(\d+)$/m
const startTimeoutMs = 30_000
const stopTimeoutMs = 5_000
const keptOutputChars = 4_000

export interface StartOptions {
  /** Folder of the compiled stack files, as returned by `compileStacks`. */
  compiledStacksDir: string
  /** Environment added to the parent's; the runner passes NODE_ENV and the secrets. */
  env: Record<string, string>
  /** CPU index to pin the child to with `taskset`, or undefined to leave it unpinned. */
  cpu: number | undefined
}

/** Memory figures of a process from `/proc/<pid>/status`, in bytes. */
export interface MemoryStatus {
  /** Resident set size now (`VmRSS`). */
  rss: number
  /** Peak resident set size since start or the last reset (`VmHWM`). */
  peakRss: number
}

export class StackProcess {
  readonly name: string
  readonly port: number
  readonly #child: ChildProcess
  readonly #output: () => string
  #sampledPeak = 0
  #peakWasReset = false
  #sampler: NodeJS.Timeout | undefined

  private constructor(name: string, port: number, child: ChildProcess, output: () => string) {
    this.name = name
    this.port = port
    this.#child = child
    this.#output = output
  }

  get pid(): number {
    return this.#child.pid ?? -1
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`
  }

  /**
   * Starts `node <compiledStacksDir>/<name>.js` and resolves once it prints its port.
   *
   * @throws Error when the child exits or stays silent for 30 s, with the end of its output.
   */
  static start(name: string, options: StartOptions): Promise<StackProcess> {
    // Every stack runs as plain JavaScript under node, with no TypeScript loader, as in
    // production: its own file compiled by compileStacks, FastBlocks from dist/ (built by
    // `npm run bench`), the peers from node_modules.
    const nodeArguments = [join(options.compiledStacksDir, `${name}.js`)]
    // taskset replaces itself with node (exec), so the child pid is the server's pid.
    const [command, commandArguments] =
      options.cpu === undefined
        ? [process.execPath, nodeArguments]
        : ['taskset', ['-c', String(options.cpu), process.execPath, ...nodeArguments]]
    const child = spawn(command, commandArguments, {
      cwd: repositoryRoot,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })

    let output = ''
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-keptOutputChars)
    }
    child.stderr?.on('data', keep)

    return new Promise((resolve, reject) => {
      let stdout = ''
      const fail = (reason: string) => {
        clearTimeout(timer)
        child.kill('SIGKILL')
        reject(new Error(`stack ${name} ${reason}. Its output:\n${stdout}${output}`))
      }
      const timer = setTimeout(() => fail('printed no port within 30 s'), startTimeoutMs)
      child.once('exit', (code, signal) => fail(`exited (code ${code}, signal ${signal})`))
      child.once('error', (error) => fail(`failed to start: ${error.message}`))

      const onStdout = (chunk: Buffer) => {
        stdout = (stdout + chunk.toString('utf8')).slice(-keptOutputChars)
        const match = listeningLine.exec(stdout)
        if (match?.[1] === undefined) return
        clearTimeout(timer)
        child.removeAllListeners('exit')
        // Later stdout (log lines) is read and dropped so the pipe never blocks the child.
        child.stdout?.off('data', onStdout)
        child.stdout?.on('data', keep)
        resolve(new StackProcess(name, Number(match[1]), child, () => output))
      }
      child.stdout?.on('data', onStdout)
    })
  }

  /**
   * Returns the CPU time the child has used so far, user and system, in microseconds, from
   * `/proc/<pid>/stat` (fields 14 and 15, in clock ticks of 10 ms on Linux).
   */
  cpuMicroseconds(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8')
    // The command name in parentheses may contain spaces, so fields are counted after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12])
    if (!Number.isFinite(ticks)) throw new Error(`/proc/${this.pid}/stat has no CPU times`)
    return ticks * MICROSECONDS_PER_TICK
  }

  /** Reads VmRSS and VmHWM of the child. */
  memory(): MemoryStatus {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8')
    return {
      rss: readKilobytes(status, /^VmRSS:\s+(\d+) kB$/m, 'VmRSS'),
      peakRss: readKilobytes(status, /^VmHWM:\s+(\d+) kB$/m, 'VmHWM'),
    }
  }

  /**
   * Resets the peak RSS (VmHWM) by writing 5 to `/proc/<pid>/clear_refs`, and starts sampling
   * VmRSS every 100 ms as a second source, for kernels where the reset is not allowed.
   */
  startMemoryWatch(): void {
    try {
      writeFileSync(`/proc/${this.pid}/clear_refs`, '5')
      this.#peakWasReset = true
    } catch {
      // NOTE: without the reset only the 100 ms samples count, so a shorter peak can be missed.
      this.#peakWasReset = false
    }
    this.#sampledPeak = this.memory().rss
    this.#sampler = setInterval(() => {
      this.#sampledPeak = Math.max(this.#sampledPeak, this.memory().rss)
    }, 100)
  }

  /** Stops sampling and returns the peak RSS since startMemoryWatch, in bytes. */
  stopMemoryWatch(): number {
    clearInterval(this.#sampler)
    this.#sampler = undefined
    const { rss, peakRss } = this.memory()
    // VmHWM counts only when it was reset; otherwise it may be a peak from an earlier endpoint.
    return Math.max(this.#sampledPeak, rss, this.#peakWasReset ? peakRss : 0)
  }

  /** Returns the last few thousand characters that the child wrote. */
  recentOutput(): string {
    return this.#output()
  }

  /** Sends SIGTERM, then SIGKILL after 5 s, and resolves when the child has exited. */
  stop(): Promise<void> {
    clearInterval(this.#sampler)
    const child = this.#child
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs)
      child.once('exit', () => {
        clearTimeout(timer)
        resolve()
      })
      child.kill('SIGTERM')
    })
  }
}

// USER_HZ, the unit of the CPU times in /proc, is 100 on x86-64 and arm64 Linux.
const MICROSECONDS_PER_TICK = 10_000

function readKilobytes(status: string, line: RegExp, field: string): number {
  const match = line.exec(status)
  if (match?.[1] === undefined) throw new Error(`/proc status has no ${field} line`)
  return Number(match[1]) * 1024
}
