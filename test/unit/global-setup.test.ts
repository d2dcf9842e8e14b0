import {describe, expect, it} from 'vitest'

import {isLocalHost, type ManagementFacts, managementAction} from '../helpers/global-setup.js'

const facts = (over: Partial<ManagementFacts>): ManagementFacts => ({api: 'down', local: true, pluginsCommand: true, autoEnable: true, ...over})

describe('test services check: what to do about the management API (one test per row)', () => {
  it('the API answers: proceed, whatever else', () => {
    expect(managementAction(facts({api: 'answers', local: false, pluginsCommand: false, autoEnable: false}))).toBe('proceed')
    expect(managementAction(facts({api: 'answers'}))).toBe('proceed')
  })
  it('the API refuses the credentials: refuse, a plugin would not help', () => {
    expect(managementAction(facts({api: 'denied'}))).toBe('refuse-credentials')
  })
  it('down on a local broker with rabbitmq-plugins, enabling allowed: enable', () => {
    expect(managementAction(facts({}))).toBe('enable')
  })
  it('down on a broker elsewhere: refuse', () => {
    expect(managementAction(facts({local: false}))).toBe('refuse')
  })
  it('down, local, but no rabbitmq-plugins on PATH: refuse', () => {
    expect(managementAction(facts({pluginsCommand: false}))).toBe('refuse')
  })
  it('down, local, rabbitmq-plugins there, but TEST_AUTO_ENABLE_PLUGINS=0: refuse', () => {
    expect(managementAction(facts({autoEnable: false}))).toBe('refuse')
  })
  it('local means this machine by name or loopback address', () => {
    expect(isLocalHost('amqp://guest:guest@127.0.0.1:5672')).toBe(true)
    expect(isLocalHost('http://guest:guest@localhost:15672')).toBe(true)
    expect(isLocalHost('http://[::1]:15672')).toBe(true)
    expect(isLocalHost('amqp://guest:guest@rabbit.internal:5672')).toBe(false)
    expect(isLocalHost('http://127.0.0.2:15672')).toBe(false)
  })
})
