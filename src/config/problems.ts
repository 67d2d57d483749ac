import { InvalidSettingsError } from '../errors/index.ts'

/** One thing wrong with the settings: where it is and a message that ends with the fix. */
export interface SettingsProblem {
  /** `settings/app.yml`, `overrides`, `NODE_ENV`, … */
  file: string
  /** Key path inside the file, such as `['csp', 'img-src', 0]`; absent for the whole file. */
  path?: (string | number)[]
  /** Description of the fault and its fix, a fragment that follows the key ("must be …"). */
  message: string
}

/** Formats a key path as `csp.img-src[0]`. */
export function formatPath(path: readonly (string | number)[]): string {
  let text = ''
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`
    else text += text === '' ? part : `.${part}`
  }
  return text
}

export function formatProblem(problem: SettingsProblem): string {
  if (problem.path === undefined || problem.path.length === 0) {
    return `${problem.file} ${problem.message}`
  }
  return `${problem.file}: key ${formatPath(problem.path)} ${problem.message}`
}

/** Builds the error that reports every problem at once, one per line. */
export function settingsError(root: string, problems: SettingsProblem[]): InvalidSettingsError {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`
  const lines = problems.map((problem) => `  - ${formatProblem(problem)}`)
  return new InvalidSettingsError(`Invalid settings in ${root} (${count}):\n${lines.join('\n')}`)
}

/**
 * Returns the candidate nearest to `word` by edit distance, or undefined when none is close
 * enough to be a likely typo (more than a third of the word's length away, and at least 2).
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const limit = Math.max(2, Math.floor(word.length / 3))
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return bestDistance <= limit ? best : undefined
}

/** Levenshtein distance with one row of memory. */
function editDistance(left: string, right: string): number {
  let previous = Array.from({ length: right.length + 1 }, (_, index) => index)
  for (let i = 1; i <= left.length; i++) {
    const current = [i]
    for (let j = 1; j <= right.length; j++) {
      const substitution = (previous.at(j - 1) ?? 0) + (left.at(i - 1) === right.at(j - 1) ? 0 : 1)
      current.push(Math.min((previous.at(j) ?? 0) + 1, (current.at(-1) ?? 0) + 1, substitution))
    }
    previous = current
  }
  return previous.at(-1) ?? 0
}
