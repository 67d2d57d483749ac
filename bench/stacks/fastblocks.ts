/**
 * FastBlocks with its whole default pipeline, configured by `bench/settings/*.yml`: request
 * context, limits, security headers with the CSP nonce, the sealed cookie session, CSRF
 * (Sec-Fetch-Site, Origin and a session-bound token), htmx details and block rendering.
 *
 * `/plain` goes through the same pipeline as every other route, because FastBlocks documents
 * no way to register a route in front of it.
 */
import { createApp } from 'fastblocks'
import {
  announcePort,
  benchRoot,
  items,
  nextVisitCount,
  noteKey,
  pageTitle,
  readNote,
  visitsKey,
} from './workload.ts'

const app = await createApp({ root: benchRoot })

app.get('/plain', (c) => c.text('ok'))

app.get('/page', (c) => {
  const session = c.get('session')
  const visits = nextVisitCount(session.get(visitsKey))
  session.set(visitsKey, visits)
  return c.render('page.html', { title: pageTitle, visits, items }, { block: 'list' })
})

app.post('/submit', async (c) => {
  const form = await c.req.parseBody()
  c.get('session').set(noteKey, readNote(form.note))
  return c.redirect('/page', 303)
})

const { url } = await app.listen({ port: 0, host: '127.0.0.1' })
announcePort(Number(new URL(url).port))
