import type nunjucks from 'nunjucks'
import { TemplateError, UndefinedVariableError } from '../errors/index.ts'
import {
  Compiler,
  environmentInternals,
  nodes,
  parser,
  transformer,
  type CompiledCode,
  type CompiledTemplate,
  type CompilerFrame,
  type FilterNode,
  type ForNode,
  type IncludeNode,
  type IsNode,
  type LiteralNode,
  type LookupValNode,
  type NodeListNode,
  type RenderFunction,
  type SymbolNode,
  type TemplateNode,
} from './nunjucks-internals.ts'
import { outputValue, setLoopVariables } from './render-helpers.ts'

/** Parameter name of the helpers in generated code. Template variables compile to other names. */
const HELPERS = '__fastblocks'

interface CodeHelpers {
  /** Returns `value`, or raises UndefinedVariableError when it is undefined. */
  defined(value: unknown, variable: string, line: number): unknown
  /** Returns the parent template with its setup function in place of its root. */
  setupView(template: CompiledTemplate): Pick<CompiledTemplate, 'blocks' | 'rootRenderFunc'>
  outputValue: typeof outputValue
  setLoopVariables: typeof setLoopVariables
}

/**
 * Top-level statements that define names or the parent template. The setup function of a
 * template runs only these, so a block rendered alone sees the same variables, imports and
 * macros as in the whole page, without rendering the rest of the page.
 *
 * NOTE: Only statements at the top level count, so an `{% extends %}` inside `{% if %}` is not
 * followed: a block defined only in that layout is then not found by `renderBlock`.
 */
const SETUP_STATEMENTS = new Set(['Extends', 'Set', 'Import', 'FromImport', 'Macro'])

/** Tests whose operand may be undefined under strict undefined. */
const DEFINED_TESTS = new Set(['defined', 'undefined'])

/** Filters whose input may be undefined under strict undefined. */
const DEFAULT_FILTERS = new Set(['default', 'd'])

/** Setup function of each compiled template, keyed by its root render function. */
const setupRoots = new WeakMap<RenderFunction, RenderFunction>()

interface CompileMode {
  /** Wrap variable and attribute reads so that an undefined value raises. */
  strict: boolean
  /** Generate the setup function: `{% extends %}` continues with the parent's setup function. */
  setup: boolean
}

/** The Nunjucks code generator with strict undefined checks and setup functions. */
class FastBlocksCompiler extends Compiler {
  readonly #mode: CompileMode
  readonly #unchecked = new WeakSet<TemplateNode>()

  constructor(templateName: string, mode: CompileMode) {
    super(templateName, false)
    this.#mode = mode
  }

  override compileSymbol(node: SymbolNode, frame: unknown): void {
    if (!this.#mode.strict || this.#unchecked.has(node)) {
      super.compileSymbol(node, frame)
      return
    }
    this._emit(`${HELPERS}.defined(`)
    super.compileSymbol(node, frame)
    this._emit(`, ${JSON.stringify(node.value)}, ${node.lineno + 1})`)
  }

  override compileLookupVal(node: LookupValNode, frame: unknown): void {
    if (!this.#mode.strict || this.#unchecked.has(node)) {
      super.compileLookupVal(node, frame)
      return
    }
    this._emit(`${HELPERS}.defined(`)
    super.compileLookupVal(node, frame)
    this._emit(`, ${JSON.stringify(describeExpression(node))}, ${node.lineno + 1})`)
  }

  override compileIs(node: IsNode, frame: unknown): void {
    const test = node.right.name?.value ?? node.right.value
    if (this.#mode.strict && test !== undefined && DEFINED_TESTS.has(test)) {
      this.#skipChecks(node.left)
    }
    super.compileIs(node, frame)
  }

  override compileFilter(node: FilterNode, frame: unknown): void {
    const input = node.args.children[0]
    if (this.#mode.strict && DEFAULT_FILTERS.has(node.name.value) && input !== undefined) {
      this.#skipChecks(input)
    }
    super.compileFilter(node, frame)
  }

  /**
   * Emits the same output statements as Nunjucks, with `outputValue` for `suppressValue`.
   * Nunjucks' `ensureDefined` wrapper is left out because this compiler runs with
   * `throwOnUndefined` false and checks undefined values itself.
   */
  override compileOutput(node: NodeListNode, frame: unknown): void {
    for (const child of node.children) {
      if (child.typename !== 'TemplateData') {
        this._emit(`${this.buffer} += ${HELPERS}.outputValue(`)
        this.compile(child, frame)
        this._emit(', env.opts.autoescape);\n')
      } else if ((child as LiteralNode).value) {
        // Template text is never escaped, so it is appended as a string literal.
        this._emit(`${this.buffer} += `)
        this.compileLiteral(child as LiteralNode, frame)
        this._emitLine(';')
      }
    }
  }

  /**
   * Emits a `{% for name in … %}` loop as Nunjucks does, but stores the loop variable with a
   * property write where Nunjucks calls `frame.set(name, value)`. That call splits the name
   * on `.` and, for a name without one, makes the same write. Loops that unpack several
   * names keep the Nunjucks code.
   */
  override compileFor(node: ForNode, frame: CompilerFrame): void {
    if (node.name.typename !== 'Symbol') {
      super.compileFor(node, frame)
      return
    }
    const name = (node.name as SymbolNode).value
    const index = this._tmpid()
    const length = this._tmpid()
    const array = this._tmpid()
    const loopFrame = frame.push()
    this._emitLine('frame = frame.push();')
    this._emit(`var ${array} = `)
    this._compileExpression(node.arr, loopFrame)
    this._emitLine(';')
    this._emitLine(`if(${array}) {${array} = runtime.fromIterator(${array});`)

    const item = this._tmpid()
    loopFrame.set(name, item)
    this._emitLine(`var ${length} = ${array}.length;`)
    // The length is read on every iteration because a method call in the body may change the array.
    this._emitLine(`for(var ${index}=0; ${index} < ${array}.length; ${index}++) {`)
    this._emitLine(`var ${item} = ${array}[${index}];`)
    this._emitLine(`frame.variables[${JSON.stringify(name)}] = ${item};`)
    this._emitLoopBindings(node, array, index, length)
    this._withScopedSyntax(() => {
      this.compile(node.body, loopFrame)
    })
    this._emitLine('}')
    this._emitLine('}')

    if (node.else_) {
      this._emitLine(`if (!${length}) {`)
      this.compile(node.else_, loopFrame)
      this._emitLine('}')
    }
    this._emitLine('frame = frame.pop();')
  }

  /**
   * Emits `{% include %}` as two nested callbacks: load the template, then render it with the
   * context's variables and the current frame, and append the output. Nunjucks emits the same
   * three steps as tasks of `env.waterfall`, which runs them in the same order but allocates
   * closures and argument arrays at each step.
   */
  override compileInclude(node: IncludeNode, frame: CompilerFrame): void {
    const template = this._compileGetTemplate(node, frame, false, node.ignoreMissing)
    const output = this._tmpid()
    this._emitLine(
      `${template}.render(context.getVariables(), frame, ${this._makeCallback(output)}`,
    )
    this._emitLine(`${this.buffer} += ${output};`)
    // The rest of the template runs inside both callbacks, which close where it ends.
    this._addScopeLevel()
    this._addScopeLevel()
  }

  /** Emits one `setLoopVariables` call where Nunjucks emits seven `frame.set("loop.…")`. */
  override _emitLoopBindings(_node: TemplateNode, _array: string, index: string, length: string) {
    this._emitLine(`${HELPERS}.setLoopVariables(frame, ${index}, ${length});`)
  }

  override compileExtends(node: TemplateNode, frame: unknown): void {
    super.compileExtends(node, frame)
    if (this.#mode.setup) {
      // The root function ends by calling `parentTemplate.rootRenderFunc`. In a setup
      // function, that call must run the parent's setup function, not its whole page.
      this._emitLine(`parentTemplate = ${HELPERS}.setupView(parentTemplate);`)
    }
  }

  /** Leaves the reads of `a`, `a.b` and `a.b.c` unchecked. The `k` of `a[k]` stays checked. */
  #skipChecks(node: TemplateNode): void {
    let current = node
    while (current.typename === 'LookupVal') {
      this.#unchecked.add(current)
      current = (current as LookupValNode).target
    }
    if (current.typename === 'Symbol') this.#unchecked.add(current)
  }
}

/** Returns how an expression reads in the template, such as `user.name` or `rows[0]`. */
function describeExpression(node: TemplateNode): string {
  switch (node.typename) {
    case 'Symbol':
      return (node as SymbolNode).value
    case 'LookupVal': {
      const { target, val } = node as LookupValNode
      const key = val.typename === 'Literal' ? (val as LiteralNode).value : undefined
      if (typeof key === 'string') return `${describeExpression(target)}.${key}`
      if (typeof key === 'number') return `${describeExpression(target)}[${key}]`
      return `${describeExpression(target)}[…]`
    }
    case 'FunCall':
      return `${describeExpression((node as unknown as { name: TemplateNode }).name)}()`
    default:
      return '(expression)'
  }
}

/**
 * Compiles template source into render functions, and registers the setup function that
 * `setupRootOf` returns for block rendering.
 *
 * Under `strict`, every read of a variable or attribute whose value is `undefined` raises
 * UndefinedVariableError, in output, conditions, loops and `{% set %}` alike, as Jinja's
 * StrictUndefined does. The exceptions are the operand of `is defined` / `is undefined` and
 * the input of `default` / `d`. A value of `null` is defined and prints as an empty string.
 */
export function compileTemplate(
  source: string,
  name: string,
  env: nunjucks.Environment,
  strict: boolean,
): CompiledCode {
  const helpers: CodeHelpers = {
    defined(value, variable, line) {
      if (value === undefined) throw new UndefinedVariableError(name, line, variable)
      return value
    },
    setupView(template) {
      return { blocks: template.blocks, rootRenderFunc: setupRootOf(template) }
    },
    outputValue,
    setLoopVariables,
  }

  let code: CompiledCode
  let setupCode: CompiledCode
  try {
    code = generate(source, name, env, { strict, setup: false }, helpers)
    setupCode = generate(source, name, env, { strict, setup: true }, helpers)
  } catch (error) {
    const { lineno, colno, message } = error as { lineno?: number; colno?: number; message: string }
    const where = lineno === undefined ? '' : ` at line ${lineno}, column ${colno ?? 0}`
    throw new TemplateError(`Template ${name} is invalid${where}: ${message}`, { cause: error })
  }
  setupRoots.set(code.root, setupCode.root)
  return code
}

function generate(
  source: string,
  name: string,
  env: nunjucks.Environment,
  mode: CompileMode,
  helpers: CodeHelpers,
): CompiledCode {
  const internals = environmentInternals(env)
  let ast: NodeListNode = parser.parse(source, internals.extensionsList, internals.opts)
  if (mode.setup) {
    const statements = ast.children.filter((node) => SETUP_STATEMENTS.has(node.typename))
    ast = new nodes.Root(0, 0, statements)
  }
  const compiler = new FastBlocksCompiler(name, mode)
  compiler.compile(transformer.transform(ast, internals.asyncFilters, name))

  // The generated code is a function body that returns `{ root, b_<block>... }`, the same
  // code that `new Function(source)` runs inside Nunjucks, with the helpers as a parameter.
  const factory = new Function(HELPERS, compiler.getCode()) as (
    helpers: CodeHelpers,
  ) => CompiledCode
  return factory(helpers)
}

/**
 * Returns the setup function of a compiled template: it runs the top-level `{% extends %}`,
 * `{% set %}`, `{% import %}`, `{% from %}` and `{% macro %}` statements of the template and
 * of every template it extends, adds the parents' blocks to the context, and outputs nothing.
 */
export function setupRootOf(template: CompiledTemplate): RenderFunction {
  const setup = setupRoots.get(template.rootRenderFunc)
  if (setup === undefined) {
    throw new TemplateError(`Template ${template.path} has no setup function to render a block`)
  }
  return setup
}
