/**
 * Typed access to the parts of Nunjucks that are not in its public API but that strict
 * undefined checks, block rendering and the faster generated code need. Checked against
 * Nunjucks 3.2.4; a Nunjucks upgrade must rerun the tests in `src/templates`, which cover
 * every item listed here.
 *
 * - `nunjucks/src/parser.js` `parse(src, extensions, opts)` and `nunjucks/src/transformer.js`
 *   `transform(ast, asyncFilters, name)`: the two steps of `compiler.compile` before code
 *   generation.
 * - `nunjucks.compiler.Compiler`: the code generator, subclassed to wrap variable reads
 *   (`compileSymbol`, `compileLookupVal`, `compileIs`, `compileFilter`, `compileExtends`) and
 *   to emit faster code for output, loops and includes (`compileOutput`, `compileFor`,
 *   `compileInclude`, `_emitLoopBindings(node, arr, i, len)` and the helpers listed in
 *   CompilerInstance).
 *   Generated code declares `parentTemplate` in the root function and assigns the parent
 *   template to it in `{% extends %}`. Its `frame` is a runtime Frame whose `variables`
 *   object `frame.set` writes to, and the compiler maps template names to generated names
 *   in a compile-time Frame (`push`, `set`).
 * - `nunjucks.lib.escape`, the HTML escape of `runtime.suppressValue`, and the characters it
 *   replaces.
 * - Node classes (`nunjucks.nodes`): `typename`, `lineno`/`colno` (0-based) and the fields read
 *   below.
 * - Compiled templates: an object `{ root, b_<block>... }` of render functions with the
 *   signature `(env, context, frame, runtime, cb)`, accepted by `new Template({ type: 'code',
 *   obj }, env, path)`, the format of precompiled templates. A compiled Template stores them
 *   as `rootRenderFunc` and `blocks`.
 * - The render context: `getBlock(name)` returns the first function of a block and throws
 *   when the block is unknown. `addBlock` appends a parent's block after the child's.
 * - Elsewhere in this folder: the environment's per-loader cache `loader.cache` (replaced by
 *   a null-prototype object), the loader event `update` that clears one cache entry, the
 *   message `template not found: <name>`, and `dev: true` keeping a helper's error as the
 *   `cause` of the Nunjucks TemplateError.
 */
import { createRequire } from 'node:module'
import nunjucks from 'nunjucks'

const require = createRequire(import.meta.url)

/** A render function of compiled template code: the root or one block. */
export type RenderFunction = (
  env: nunjucks.Environment,
  context: RenderContext,
  frame: unknown,
  runtime: unknown,
  callback: (error: unknown, output?: string) => void,
) => void

/** The run-time context Nunjucks passes to render functions. */
export interface RenderContext {
  getBlock(name: string): RenderFunction
}

/** Compiled template code in the precompiled format: `root` plus one `b_<name>` per block. */
export interface CompiledCode {
  root: RenderFunction
  [blockKey: `b_${string}`]: RenderFunction
}

/** A Nunjucks Template after `compile()`, with the fields the generated code also reads. */
export interface CompiledTemplate extends nunjucks.Template {
  path: string
  blocks: Record<string, RenderFunction>
  rootRenderFunc: RenderFunction
}

/** A template source in the precompiled format, returned by a loader's `getSource`. */
export interface CodeSource {
  src: { type: 'code'; obj: CompiledCode }
  path: string
  noCache: boolean
}

export interface TemplateNode {
  readonly typename: string
  lineno: number
  colno: number
}

export interface SymbolNode extends TemplateNode {
  value: string
}

export interface LiteralNode extends TemplateNode {
  value: unknown
}

export interface LookupValNode extends TemplateNode {
  target: TemplateNode
  val: TemplateNode
}

export interface NodeListNode extends TemplateNode {
  children: TemplateNode[]
}

export interface FilterNode extends TemplateNode {
  name: SymbolNode
  args: NodeListNode
}

export interface ForNode extends TemplateNode {
  /** The loop variable, or an Array node of names for `{% for a, b in … %}`. */
  name: TemplateNode
  arr: TemplateNode
  body: NodeListNode
  else_: NodeListNode | null
}

/** The compile-time Frame of the compiler: template variable names to generated names. */
export interface CompilerFrame {
  push(): CompilerFrame
  set(name: string, generatedName: string): void
}

export interface IncludeNode extends TemplateNode {
  template: TemplateNode
  ignoreMissing: boolean
}

export interface IsNode extends TemplateNode {
  left: TemplateNode
  right: TemplateNode & { name?: SymbolNode; value?: string }
}

/** The instance side of `nunjucks.compiler.Compiler` that subclasses use. */
export interface CompilerInstance {
  templateName: string
  /** Name of the generated variable that output is appended to. */
  buffer: string
  compile(node: TemplateNode, frame?: unknown): void
  compileSymbol(node: SymbolNode, frame: unknown): void
  compileLookupVal(node: LookupValNode, frame: unknown): void
  compileFilter(node: FilterNode, frame: unknown): void
  compileIs(node: IsNode, frame: unknown): void
  compileExtends(node: TemplateNode, frame: unknown): void
  compileOutput(node: NodeListNode, frame: unknown): void
  compileLiteral(node: LiteralNode, frame: unknown): void
  compileFor(node: ForNode, frame: CompilerFrame): void
  /** Emits the statements that set `loop.*` in a loop body. The arguments are generated names. */
  _emitLoopBindings(node: TemplateNode, array: string, index: string, length: string): void
  /** Returns a new generated variable name. */
  _tmpid(): string
  _compileExpression(node: TemplateNode, frame: CompilerFrame): void
  /** Runs `compile` for a nested body, closing the callbacks that async nodes in it open. */
  _withScopedSyntax(compile: () => void): void
  compileInclude(node: IncludeNode, frame: CompilerFrame): void
  /**
   * Emits `env.getTemplate(<node.template>, …, function(error, <returned name>) {` and the
   * error check, leaving the callback open.
   */
  _compileGetTemplate(
    node: IncludeNode,
    frame: CompilerFrame,
    eagerCompile: boolean,
    ignoreMissing: boolean,
  ): string
  /** Returns `function(error, <result>) {` and a check that passes an error to `cb`. */
  _makeCallback(result: string): string
  /** Adds one `})` to close at the end of the current function or scoped body. */
  _addScopeLevel(): void
  getCode(): string
  _emit(code: string): void
  _emitLine(code: string): void
}

export type CompilerClass = new (
  templateName: string,
  throwOnUndefined: boolean,
) => CompilerInstance

interface NodesModule {
  Root: new (lineno: number, colno: number, children: TemplateNode[]) => NodeListNode
}

interface ParserModule {
  parse(source: string, extensions: unknown[], options: unknown): NodeListNode
}

interface TransformerModule {
  transform(ast: NodeListNode, asyncFilters: string[], name: string): NodeListNode
}

/** The environment fields `compiler.compile` passes to the parser and the transformer. */
export interface EnvironmentInternals {
  opts: Record<string, unknown>
  asyncFilters: string[]
  extensionsList: unknown[]
}

// The public `nunjucks` object exposes these modules, but @types/nunjucks does not describe
// them. The transformer is not exposed at all, so it is loaded from its file.
const untyped = nunjucks as unknown as {
  compiler: { Compiler: CompilerClass }
  nodes: NodesModule
  parser: ParserModule
  lib: { escape(text: string): string }
}

export const Compiler: CompilerClass = untyped.compiler.Compiler
export const nodes: NodesModule = untyped.nodes
export const parser: ParserModule = untyped.parser
export const transformer = require('nunjucks/src/transformer.js') as TransformerModule
export const nunjucksEscape: (text: string) => string = untyped.lib.escape

/** Returns the internals of an environment that compiling a template reads. */
export function environmentInternals(env: nunjucks.Environment): EnvironmentInternals {
  return env as unknown as EnvironmentInternals
}

/** Creates a Template from compiled code, as the precompiled loader of Nunjucks does. */
export function templateFromCode(
  code: CompiledCode,
  env: nunjucks.Environment,
  path: string,
): CompiledTemplate {
  const TemplateClass = nunjucks.Template as unknown as new (
    source: { type: 'code'; obj: CompiledCode },
    env: nunjucks.Environment,
    path: string,
    eagerCompile: boolean,
  ) => CompiledTemplate
  return new TemplateClass({ type: 'code', obj: code }, env, path, true)
}
