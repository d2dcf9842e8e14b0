import {describe, expect, it} from 'vitest'

import {UsageError} from '../../src/core/errors.js'
import {parsePart, partName} from '../../src/core/part.js'

describe('parsePart (decision table)', () => {
  it('no --part, no --parts: the whole run', () => expect(parsePart(undefined, undefined, {JOB_COMPLETION_INDEX: '3'})).toBeUndefined())
  it('--part I/N', () => {
    expect(parsePart('2/4', undefined)).toEqual({index: 2, count: 4})
    expect(parsePart(' 1 / 1 ', undefined)).toEqual({index: 1, count: 1})
    expect(partName({index: 2, count: 4})).toBe('2/4')
  })
  it.each(['0/4', '5/4', '1/0', '2', 'a/b', '1/2000', '-1/4'])('--part %s is a usage error', (text) => expect(() => parsePart(text, undefined)).toThrow(UsageError))
  it('--part with --parts is a usage error', () => expect(() => parsePart('1/2', 2)).toThrow(/cannot be combined/))
  it('--parts N takes $JOB_COMPLETION_INDEX + 1', () => expect(parsePart(undefined, 4, {JOB_COMPLETION_INDEX: '3'})).toEqual({index: 4, count: 4}))
  it('--parts N with an index not below N is a usage error', () => expect(() => parsePart(undefined, 4, {JOB_COMPLETION_INDEX: '4'})).toThrow(/is not below --parts 4/))
  it('--parts N without the variable names it', () => {
    expect(() => parsePart(undefined, 4, {})).toThrow(/JOB_COMPLETION_INDEX/)
    expect(() => parsePart(undefined, 4, {JOB_COMPLETION_INDEX: 'x'})).toThrow(/JOB_COMPLETION_INDEX/)
  })
})
