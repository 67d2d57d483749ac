/**
 * `${NAME}` and `${NAME:-default}` placeholders in settings strings.
 *
 * `${NAME}` is replaced by the variable's value and is an error when the variable is not set.
 * `${NAME:-default}` uses the default when the variable is unset or empty, as in POSIX shells.
 * `$${` is a literal `${`. Values are substituted once: a placeholder inside a variable's
 * value is kept as text, so an environment value cannot pull in other variables.
 */

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

export type InterpolationResult = { value: string } | { problem: string }

/**
 * Replaces the placeholders of one string value. On failure, returns the problem as a
 * fragment that follows "key <path>" in a message.
 *
 * @example
 * interpolate('${DATABASE_URL:-sqlite:data/app.db}', process.env)
 */
export function interpolate(
  text: string,
  environ: Record<string, string | undefined>,
): InterpolationResult {
  let output = ''
  let index = 0

  while (index < text.length) {
    const dollar = text.indexOf('$', index)
    if (dollar === -1) {
      output += text.slice(index)
      break
    }
    output += text.slice(index, dollar)

    // `$${` escapes a literal `${`.
    if (text.startsWith('$${', dollar)) {
      output += '${'
      index = dollar + 3
      continue
    }
    if (!text.startsWith('${', dollar)) {
      output += '$'
      index = dollar + 1
      continue
    }

    const close = text.indexOf('}', dollar + 2)
    if (close === -1) {
      return { problem: 'has a "${" with no closing "}"; write $${ for a literal ${' }
    }
    const placeholder = text.slice(dollar, close + 1)
    const inner = text.slice(dollar + 2, close)
    const separator = inner.indexOf(':-')
    const name = separator === -1 ? inner : inner.slice(0, separator)
    if (!VARIABLE_NAME.test(name)) {
      return {
        problem:
          `has an invalid placeholder ${placeholder}; use \${NAME} or \${NAME:-default} ` +
          'with a variable name of letters, digits and underscores, or $${ for a literal ${',
      }
    }

    // An own property only, and `name` matched VARIABLE_NAME above.
    // eslint-disable-next-line security/detect-object-injection -- see above
    const value = Object.hasOwn(environ, name) ? environ[name] : undefined
    if (separator !== -1) {
      const fallback = inner.slice(separator + 2)
      output += value === undefined || value === '' ? fallback : value
    } else if (value === undefined) {
      return {
        problem:
          `uses \${${name}}, which is not set; export ${name} or give a default with ` +
          `\${${name}:-value}`,
      }
    } else {
      output += value
    }
    index = close + 1
  }

  return { value: output }
}
