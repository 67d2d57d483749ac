/**
 * Correctness checks run on each stack before any load, so that no stack is measured while it
 * skips part of the workload. They also produce the session cookie and CSRF token that the
 * load requests carry.
 */
import { CookieJar, formBody, send, type ReceivedResponse } from './http.ts'
import { ownOrigin, type StackDefinition } from './stacks.ts'

const itemCount = 20
const escapedItemText = 'Item &lt;3&gt; &amp; &quot;quoted&quot; number '
const hiddenInputPattern = /<input type="hidden" name="([^"]+)" value="([^"]*)">/
const scriptNoncePattern = /<script[^>]*\snonce="([^"]*)"/g
const cspNoncePattern = /script-src[^;]*'nonce-([^']+)'/

/** Cookie, Origin and form body that let a load request pass a stack's session and CSRF layers. */
export interface LoadFixture {
  /** Cookie header with the session (and, for Express, the CSRF cookie); empty for `node`. */
  cookie: string
  /** Origin header value the stack accepts. */
  origin: string
  /** Form body of a valid `POST /submit`. */
  submitBody: string
}

/** Failed checks of one stack, all listed in one message. */
export class StackCheckError extends Error {
  constructor(stack: string, failures: string[]) {
    super(`stack ${stack} failed ${failures.length} check(s):\n  - ${failures.join('\n  - ')}`)
    this.name = 'StackCheckError'
  }
}

class CheckList {
  readonly failures: string[] = []

  expect(condition: boolean, description: string): void {
    if (!condition) this.failures.push(description)
  }
}

function count(text: string, fragment: string): number {
  return text.split(fragment).length - 1
}

function checkEscapedItems(checks: CheckList, response: ReceivedResponse, what: string): void {
  checks.expect(
    count(response.body, escapedItemText) === itemCount,
    `${what}: expected ${itemCount} escaped items, found ${count(response.body, escapedItemText)}`,
  )
  checks.expect(!response.body.includes('<3>'), `${what}: raw "<3>" in the body (not escaped)`)
  checks.expect(
    !response.body.includes('"quoted"'),
    `${what}: raw double quotes around "quoted" in the body (not escaped)`,
  )
}

/** Checks that every script nonce in the body equals the CSP header's, and returns it. */
function checkNonce(checks: CheckList, response: ReceivedResponse): string | undefined {
  const header = response.headers.get('Content-Security-Policy') ?? ''
  const headerNonce = cspNoncePattern.exec(header)?.[1]
  checks.expect(
    headerNonce !== undefined,
    `GET /page: no script-src nonce in CSP header "${header}"`,
  )
  const bodyNonces = [...response.body.matchAll(scriptNoncePattern)].map((match) => match[1])
  checks.expect(bodyNonces.length > 0, 'GET /page: no <script nonce> in the body')
  for (const nonce of bodyNonces) {
    checks.expect(
      nonce === headerNonce,
      `GET /page: body nonce ${nonce} differs from header ${headerNonce}`,
    )
  }
  return headerNonce
}

async function checkPlain(checks: CheckList, baseUrl: string): Promise<void> {
  const plain = await send(`${baseUrl}/plain`)
  checks.expect(plain.status === 200, `GET /plain: status ${plain.status}, expected 200`)
  checks.expect(plain.body === 'ok', `GET /plain: body "${plain.body.slice(0, 40)}", expected "ok"`)
  const type = plain.headers.get('Content-Type') ?? ''
  checks.expect(type.startsWith('text/plain'), `GET /plain: Content-Type "${type}"`)
}

/**
 * Runs every check on a running stack and returns the fixture for the load.
 *
 * @throws StackCheckError listing every failed check.
 */
export async function checkStack(
  stack: StackDefinition,
  baseUrl: string,
  port: number,
): Promise<LoadFixture> {
  const checks = new CheckList()
  const jar = new CookieJar()
  const origin = ownOrigin(stack, port)

  await checkPlain(checks, baseUrl)

  // Full page on a new session: escaping, nonce, token, session cookie.
  const first = await send(`${baseUrl}/page`, {}, jar)
  checks.expect(first.status === 200, `GET /page: status ${first.status}, expected 200`)
  const type = first.headers.get('Content-Type') ?? ''
  checks.expect(type.startsWith('text/html'), `GET /page: Content-Type "${type}"`)
  checks.expect(first.body.includes('<html'), 'GET /page: no <html> (layout not extended)')
  checks.expect(first.body.includes('<form'), 'GET /page: no <form>')
  checkEscapedItems(checks, first, 'GET /page')
  const tokenMatch = hiddenInputPattern.exec(first.body)
  const tokenField = tokenMatch?.[1] ?? '_csrf'
  const token = tokenMatch?.[2] ?? ''

  if (stack.secured) {
    const firstNonce = checkNonce(checks, first)
    checks.expect(token !== '', 'GET /page: no hidden CSRF input with a value in the form')
    checks.expect(jar.size > 0, 'GET /page: no session cookie set')

    // Second visit with the cookie: the session was read back and written again.
    const second = await send(`${baseUrl}/page`, {}, jar)
    checks.expect(
      second.body.includes('Visits in this session: 2'),
      'GET /page again: visit counter is not 2 (session not read back)',
    )
    const secondNonce = checkNonce(checks, second)
    checks.expect(firstNonce !== secondNonce, 'GET /page: the same CSP nonce on two responses')
  }

  // htmx request: the list block alone.
  const fragment = await send(`${baseUrl}/page`, { headers: { 'HX-Request': 'true' } }, jar)
  checks.expect(fragment.status === 200, `GET /page (htmx): status ${fragment.status}`)
  checkEscapedItems(checks, fragment, 'GET /page (htmx)')
  checks.expect(
    count(fragment.body, '<li ') === itemCount,
    'GET /page (htmx): not 20 <li> elements',
  )
  for (const outside of ['<html', '<header', '<form', '<script', '<ul']) {
    checks.expect(
      !fragment.body.includes(outside),
      `GET /page (htmx): ${outside} outside the block`,
    )
  }
  const vary = fragment.headers.get('Vary') ?? ''
  checks.expect(/\bhx-request\b/i.test(vary), `GET /page (htmx): Vary "${vary}" lacks HX-Request`)

  const post = (fields: Record<string, string>, cookieJar: CookieJar | undefined) =>
    send(
      `${baseUrl}/submit`,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: origin },
        body: formBody(fields),
      },
      cookieJar,
    )
  const validFields = { [tokenField]: token, note: 'benchmark note' }

  if (stack.secured) {
    const missing = await post({ note: 'no token' }, jar)
    checks.expect(
      missing.status === 403,
      `POST /submit without token: ${missing.status}, expected 403`,
    )
    // Alter a middle character: in base64 the last one may carry only padding bits.
    const middle = Math.floor(token.length / 2)
    const tampered =
      token.slice(0, middle) + (token[middle] === '0' ? '1' : '0') + token.slice(middle + 1)
    const wrong = await post({ [tokenField]: tampered, note: 'wrong token' }, jar)
    checks.expect(
      wrong.status === 403,
      `POST /submit with altered token: ${wrong.status}, expected 403`,
    )
    const noSession = await post(validFields, undefined)
    checks.expect(
      noSession.status === 403,
      `POST /submit with token but no session cookie: ${noSession.status}, expected 403`,
    )
  }

  const cookie = jar.header()
  const valid = await post(validFields, jar)
  checks.expect(
    valid.status >= 200 && valid.status < 400,
    `POST /submit with token: status ${valid.status}, expected 2xx or 3xx; body ${valid.body.slice(0, 200)}`,
  )

  if (checks.failures.length > 0) throw new StackCheckError(stack.name, checks.failures)
  return { cookie, origin, submitBody: formBody(validFields) }
}
