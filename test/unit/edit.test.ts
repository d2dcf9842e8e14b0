import {describe, expect, it} from 'vitest'

import {bodyForEditor, editedBody, type EditReplayOptions, replayEdited, withHeaders} from '../../src/core/dlq/edit.js'
import type {DeadLetter, DeadLetterQueues, DeadLetterReader} from '../../src/core/dlq/ports.js'
import {archiveDecision} from '../../src/core/outbox/discard.js'
import {applySet, decideEdit} from '../../src/core/outbox/edit.js'
import type {OutgoingMessage, PublishOutcome, PublisherPort} from '../../src/core/ports.js'

describe('decideEdit: one test per row', () => {
  const shown = {id: 'r1', payloadText: '{"a":1}', headersText: null}
  it('gone: refused', () => expect(decideEdit(shown, undefined)).toMatchObject({action: 'refuse', why: expect.stringMatching(/deleted meanwhile/)}))
  it('sent: refused, the old payload went out', () => expect(decideEdit(shown, {...shown, status: 'sent'})).toMatchObject({action: 'refuse', why: expect.stringMatching(/is sent/)}))
  it('another status: refused', () => expect(decideEdit(shown, {...shown, status: '7'})).toMatchObject({action: 'refuse', why: expect.stringMatching(/status 7/)}))
  it('payload or headers changed: refused', () => {
    expect(decideEdit(shown, {...shown, status: 'pending', payloadText: '{"a":2}'})).toMatchObject({action: 'refuse', why: expect.stringMatching(/changed by someone else/)})
    expect(decideEdit(shown, {...shown, status: 'pending', headersText: '{}'})).toMatchObject({action: 'refuse'})
  })
  it('attempts moved, same payload: applied', () => expect(decideEdit(shown, {...shown, status: 'pending'})).toEqual({action: 'apply'}))
  it('dead-letter, same payload: applied', () => expect(decideEdit(shown, {...shown, status: 'dead-letter'})).toEqual({action: 'apply'}))
})

describe('applySet: one test per row', () => {
  it('sets inside an object', () => expect(applySet({a: {b: 1}}, 'a.b=2')).toEqual({a: {b: 2}}))
  it('creates missing objects, value as text when not JSON', () => expect(applySet({}, 'a.b=x y')).toEqual({a: {b: 'x y'}}))
  it('array index', () => expect(applySet({items: [{sku: 'x'}]}, 'items.0.sku="y"')).toEqual({items: [{sku: 'y'}]}))
  it('through a non-object: refused', () => expect(() => applySet({a: 3}, 'a.b=1')).toThrow(/a is 3, not an object/))
  it('payload not an object: refused', () => expect(() => applySet('text', 'a=1')).toThrow(/needs a payload that is a JSON object/))
  it('no = or an empty path: refused', () => {
    expect(() => applySet({}, 'a')).toThrow(/not path=value/)
    expect(() => applySet({}, 'a..b=1')).toThrow(/not path=value/)
  })
  it('does not change its input', () => {
    const input = {a: {b: 1}}
    applySet(input, 'a.b=2')
    expect(input).toEqual({a: {b: 1}})
  })
})

describe('archiveDecision: one test per row', () => {
  it('both: refused', () => expect(() => archiveDecision({archivePath: 'x', withoutArchive: true})).toThrow(/contradict/))
  it('archive', () => expect(archiveDecision({archivePath: 'x'})).toBe('archive'))
  it('without archive', () => expect(archiveDecision({withoutArchive: true})).toBe('unkept'))
  it('neither, dry run: count', () => expect(archiveDecision({dryRun: true})).toBe('count'))
  it('neither: refused', () => expect(() => archiveDecision({})).toThrow(/say where they are kept/))
})

describe('edited dead-letter bodies: one test per row', () => {
  it('JSON is shown indented', () => expect(bodyForEditor(Buffer.from('{"a":1}'), undefined)).toBe('{\n  "a": 1\n}\n'))
  it('text that is not JSON as it is', () => expect(bodyForEditor(Buffer.from('plain'), 'text/plain')).toBe('plain'))
  it('bytes that are not UTF-8: refused', () => expect(() => bodyForEditor(Buffer.from([0xff, 0xfe]), undefined)).toThrow(/not UTF-8 text/))
  it('JSON edited to JSON: compact', () => expect(editedBody(Buffer.from('{}'), undefined, Buffer.from('{\n "a": 2\n}'), 'x').toString()).toBe('{"a":2}'))
  it('JSON edited to something else: refused', () => expect(() => editedBody(Buffer.from('{}'), 'application/json', Buffer.from('{oops'), 'the edited body')).toThrow(/the edited body is not valid JSON/))
  it('not JSON: the bytes as they are', () => expect(editedBody(Buffer.from('a'), 'text/plain', Buffer.from('{oops'), 'x').toString()).toBe('{oops'))
  it('--set-header pairs', () => {
    expect(withHeaders({a: '1'}, ['b=2', 'a=3'])).toEqual({a: '3', b: '2'})
    expect(() => withHeaders({}, ['nope'])).toThrow(/not name=value/)
  })
})

/** A dead-letter queue in memory: what was acked is gone, what was held comes back at close. */
function fakeQueue(letters: DeadLetter[]): {queues: DeadLetterQueues; acked: string[]; closed: () => boolean; ackWorks: {value: boolean}} {
  const acked: string[] = []
  let closed = false
  const ackWorks = {value: true}
  const reader: DeadLetterReader = {
    async next() {
      return letters.shift() ?? null
    },
    ack(letter) {
      if (!ackWorks.value) return false
      acked.push(String(letter.properties.messageId))
      return true
    },
    hold() {},
    async close() {
      closed = true
    },
  }
  return {queues: {state: async () => ({messages: 3, consumers: 0}), open: async () => reader}, acked, closed: () => closed, ackWorks}
}

const letter = (id: string): DeadLetter => ({
  tag: 1, redelivered: false, body: Buffer.from(`{"id":"${id}"}`),
  properties: {messageId: id, contentType: 'application/json', headers: {'x-first-death-queue': 'q', 'x-first-death-reason': 'rejected', 'x-death': [{count: 1, reason: 'rejected', queue: 'q', exchange: 'x', 'routing-keys': ['k']}]}},
})

function fakePublisher(answer: () => Promise<PublishOutcome[]>): PublisherPort & {published: OutgoingMessage[]} {
  const published: OutgoingMessage[] = []
  return {published, async publishBatch(messages) {
    published.push(...messages)
    return answer()
  }, async close() {}}
}

const options = (over: Partial<EditReplayOptions> = {}): EditReplayOptions => ({
  queue: 'q.dlq', messageId: 'm-2', errorHeaders: [], idleMs: 10, prefetch: 10,
  edit: async () => ({body: Buffer.from('{"id":"edited"}'), headers: {}}), confirm: async () => true, ...over,
})

describe('replayEdited over fakes: the order publish → confirm → ack', () => {
  it('confirmed: published once, then the original (only it) acked', async () => {
    const q = fakeQueue([letter('m-1'), letter('m-2'), letter('m-3')])
    const publisher = fakePublisher(async () => [{status: 'confirmed'}])
    const steps: string[] = []
    const report = await replayEdited({queues: q.queues, publisher, journal: async (step) => void steps.push(`${step}:${q.acked.length}`)}, options())
    expect(report.step).toBe('acked')
    expect(publisher.published).toHaveLength(1)
    expect(publisher.published[0]).toMatchObject({exchange: 'x', routingKey: 'k', properties: {messageId: 'm-2'}})
    expect(publisher.published[0].body.toString()).toBe('{"id":"edited"}')
    expect(q.acked).toEqual(['m-2'])
    // The journal heard of the publish before any ack.
    expect(steps).toEqual(['published:0'])
    expect(q.closed()).toBe(true)
  })

  it('a crash between the confirm and the ack (the process dies in the journal step): nothing acked, one copy published', async () => {
    const q = fakeQueue([letter('m-2')])
    const publisher = fakePublisher(async () => [{status: 'confirmed'}])
    const died = new Promise<never>(() => {})
    // The journal never returns: the process is killed while in it; the original's delivery is unacked.
    const run = replayEdited({queues: q.queues, publisher, journal: () => died}, options())
    await new Promise((r) => setTimeout(r, 50))
    expect(publisher.published).toHaveLength(1)
    expect(q.acked).toEqual([])
    void run
  })

  it('returned or nacked: nothing acked, the report says why', async () => {
    for (const outcome of [{status: 'returned', reason: 'NO_ROUTE'}, {status: 'nacked', reason: 'nack'}] as PublishOutcome[]) {
      const q = fakeQueue([letter('m-2')])
      const report = await replayEdited({queues: q.queues, publisher: fakePublisher(async () => [outcome])}, options())
      expect(report.step).toBe('failed')
      expect(report.detail).toMatch(/still in the DLQ/)
      expect(q.acked).toEqual([])
    }
  })

  it('unconfirmed (the channel died): nothing acked, the report says the copy may have arrived', async () => {
    const q = fakeQueue([letter('m-2')])
    const report = await replayEdited({queues: q.queues, publisher: fakePublisher(async () => Promise.reject(new Error('channel closed')))}, options())
    expect(report).toMatchObject({step: 'failed', detail: expect.stringMatching(/unconfirmed: channel closed; the original is still in the DLQ/)})
    expect(q.acked).toEqual([])
  })

  it('the ack refused after the confirm: step published, the report says the original is still there', async () => {
    const q = fakeQueue([letter('m-2')])
    q.ackWorks.value = false
    const report = await replayEdited({queues: q.queues, publisher: fakePublisher(async () => [{status: 'confirmed'}])}, options())
    expect(report).toMatchObject({step: 'published', detail: expect.stringMatching(/could not be acked.*still in the DLQ/)})
  })

  it('a failing journal does not stop the ack', async () => {
    const q = fakeQueue([letter('m-2')])
    const report = await replayEdited({queues: q.queues, publisher: fakePublisher(async () => [{status: 'confirmed'}]), journal: async () => Promise.reject(new Error('db down'))}, options())
    expect(report.step).toBe('acked')
    expect(q.acked).toEqual(['m-2'])
  })

  it('not found, unchanged, declined: nothing published, nothing acked', async () => {
    for (const [over, step] of [[{messageId: 'nope'}, 'not-found'], [{edit: async () => null}, 'unchanged'], [{confirm: async () => false}, 'cancelled']] as const) {
      const q = fakeQueue([letter('m-1'), letter('m-2')])
      const publisher = fakePublisher(async () => [{status: 'confirmed'}])
      const report = await replayEdited({queues: q.queues, publisher}, options(over as Partial<EditReplayOptions>))
      expect(report.step).toBe(step)
      expect(publisher.published).toEqual([])
      expect(q.acked).toEqual([])
    }
  })

  it('--new-message-id: the copy has a new id and names the original', async () => {
    const q = fakeQueue([letter('m-2')])
    const publisher = fakePublisher(async () => [{status: 'confirmed'}])
    const report = await replayEdited({queues: q.queues, publisher}, options({newMessageId: true}))
    expect(report.publishedAs).not.toBe('m-2')
    expect(publisher.published[0].properties.headers?.['x-msgops-edited-from']).toBe('m-2')
  })
})
