/**
 * Compiles the stack files to JavaScript before the run, so that each server runs under plain
 * `node` and its memory contains no TypeScript loader.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const sourceDir = fileURLToPath(new URL('../stacks/', import.meta.url))

/**
 * Output folder, git-ignored. It must stay inside the repository so that `import 'fastblocks'`
 * resolves to this package's dist/ by package self-reference. It must also sit at the same
 * depth as bench/stacks/, because workload.ts finds bench/ and bench/templates/ by URLs
 * relative to its own file (`../`, `../templates/`).
 */
const outputDir = fileURLToPath(new URL('../.build/', import.meta.url))

const compilerOptions: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  // ESNext, because transpileModule reads no package.json and so emits CommonJS under NodeNext.
  module: ts.ModuleKind.ESNext,
  verbatimModuleSyntax: true,
  // Turns `./workload.ts` into `./workload.js`.
  rewriteRelativeImportExtensions: true,
}

/**
 * Transpiles every `bench/stacks/*.ts` file to `bench/.build/<name>.js` with
 * `ts.transpileModule`, which strips types and checks none (`tsc --noEmit` does that).
 *
 * @returns The output folder.
 * @throws Error on a syntax error, or when an output file still imports a relative `.ts` path.
 */
export function compileStacks(): string {
  mkdirSync(outputDir, { recursive: true })
  const sourceFiles = readdirSync(sourceDir).filter((file) => file.endsWith('.ts'))
  for (const file of sourceFiles) {
    const sourcePath = join(sourceDir, file)
    const result = ts.transpileModule(readFileSync(sourcePath, 'utf8'), {
      fileName: sourcePath,
      compilerOptions,
      reportDiagnostics: true,
    })
    const diagnostics = result.diagnostics ?? []
    if (diagnostics.length > 0) {
      throw new Error(`failed to compile ${sourcePath}:\n${formatDiagnostics(diagnostics)}`)
    }
    rejectTypeScriptImports(sourcePath, result.outputText)
    writeFileSync(join(outputDir, file.replace(/\.ts$/, '.js')), result.outputText)
  }
  return outputDir
}

/** Throws when compiled code imports a relative `.ts` path, which plain `node` cannot load. */
function rejectTypeScriptImports(sourcePath: string, outputText: string): void {
  const { importedFiles } = ts.preProcessFile(outputText, true, true)
  const leftOver = importedFiles
    .map((imported) => imported.fileName)
    .filter((specifier) => specifier.startsWith('.') && /\.[cm]?ts$/.test(specifier))
  if (leftOver.length > 0) {
    throw new Error(
      `compiled ${sourcePath} still imports ${leftOver.join(', ')}, which plain node cannot ` +
        'load. Write these specifiers with .js in the source, which TypeScript resolves to .ts.',
    )
  }
}

function formatDiagnostics(diagnostics: readonly ts.Diagnostic[]): string {
  return ts.formatDiagnostics(diagnostics, {
    getCanonicalFileName: (fileName) => fileName,
    getCurrentDirectory: () => process.cwd(),
    getNewLine: () => '\n',
  })
}
