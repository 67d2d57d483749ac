/**
 * Bare `node:http` with Nunjucks and no security layer at all: no session, no CSRF check, no
 * security headers, no nonce. It renders the same templates and so marks the ceiling that a
 * framework on the same runtime and template engine can approach.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import nunjucks from 'nunjucks'
import {
  announcePort,
  items,
  nunjucksOptions,
  pageTitle,
  readNote,
  templatesDir,
} from './workload.ts'

const maxBodyBytes = 1024 * 1024
const templates = nunjucks.configure(templatesDir, nunjucksOptions)

function sendHtml(response: ServerResponse, html: string): void {
  response.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
    Vary: 'HX-Request',
  })
  response.end(html)
}

function renderPage(request: IncomingMessage, response: ServerResponse): void {
  if (request.headers['hx-request'] === 'true') {
    sendHtml(response, templates.render('list.html', { items }))
    return
  }
  // Without a session or CSRF layer there is no counter, token or nonce to show.
  sendHtml(
    response,
    templates.render('page.html', {
      title: pageTitle,
      visits: 0,
      items,
      csrf_token: '',
      csp_nonce: '',
    }),
  )
}

async function readForm(request: IncomingMessage): Promise<URLSearchParams | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxBodyBytes) {
      return undefined
    }
    chunks.push(chunk)
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
}

async function submit(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const form = await readForm(request)
  if (form === undefined) {
    response.writeHead(413, { 'Content-Type': 'text/plain' }).end('Payload too large')
    return
  }
  readNote(form.get('note') ?? undefined)
  response.writeHead(303, { Location: '/page', 'Content-Length': 0 }).end()
}

const server = createServer((request, response) => {
  const path = (request.url ?? '/').split('?', 1)[0]

  if (request.method === 'GET' && path === '/plain') {
    response.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 2 }).end('ok')
    return
  }
  if (request.method === 'GET' && path === '/page') {
    renderPage(request, response)
    return
  }
  if (request.method === 'POST' && path === '/submit') {
    submit(request, response).catch((error: unknown) => {
      response.destroy(error instanceof Error ? error : undefined)
    })
    return
  }
  response.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found')
})

server.listen(0, '127.0.0.1', () => {
  announcePort((server.address() as AddressInfo).port)
})
