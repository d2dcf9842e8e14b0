import {formatDuration} from '../core/duration.js'
import {commonFragment} from '../core/snapshot/failures.js'
import type {Judgement, Level} from '../core/snapshot/judge.js'
import type {FailureGroup, Part, QueueFigures, Snapshot} from '../core/snapshot/model.js'
import {type Color, paint} from './color.js'
import {humanTime} from './time.js'

/** What the screen keeps between snapshots: the sparklines' values since top started. */
export interface History {
  backlog: number[]
  oldestS: number[]
  dlq: number[]
}

export type Panel = 'failures' | 'queues'

export interface TopView {
  snapshot: Snapshot
  judgement: Judgement
  history: History
  width: number
  /** Lines available; Infinity for a plain, unclipped print (--once). */
  height: number
  intervalMs: number
  /** false: a plain print (--once, no TTY): no keys, no selection. */
  live: boolean
  paused?: boolean
  selected?: {panel: Panel; row: number}
  detail?: boolean
  help?: boolean
  color: boolean
}

/** One run of text, coloured as a whole. */
type Seg = string | [text: string, color: Color | undefined]
type Line = Seg[]

const HISTORY = 240
const BARS = '▁▂▃▄▅▆▇█'

/** Adds the snapshot's figures to the history, keeping the newest HISTORY of each. */
export function record(history: History, s: Snapshot): History {
  const push = (list: number[], value: number | null | undefined) => (value === null || value === undefined ? list : [...list, value].slice(-HISTORY))
  const dlq = s.broker.data ? s.broker.data.queues.filter((q) => q.deadLetter).reduce((sum, q) => sum + q.messages, 0) : null
  return {
    backlog: push(history.backlog, s.outbox.data?.counts.pending),
    oldestS: push(history.oldestS, s.outbox.data && s.outbox.data.stuck !== null ? (s.outbox.data.oldestPendingAgeMs ?? 0) / 1000 : null),
    dlq: push(history.dlq, dlq),
  }
}

/** The newest `width` values as bars from the lowest to the highest of them. */
export function sparkline(values: readonly number[], width: number): string {
  const shown = values.slice(-Math.max(0, width))
  if (shown.length === 0) return ''
  const min = Math.min(...shown)
  const max = Math.max(...shown)
  return shown.map((v) => BARS[max === min ? 0 : Math.round(((v - min) / (max - min)) * (BARS.length - 1))]).join('')
}

const n = (v: number) => v.toLocaleString('en-US')
const rate = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1))
const LEVEL_COLOR: Record<Level, Color | undefined> = {ok: undefined, warn: 'yellow', alert: 'red'}

function cut(text: string, width: number): string {
  return text.length <= width ? text : width <= 1 ? text.slice(0, width) : `${text.slice(0, width - 1)}…`
}

/** A line cut to the width, then coloured (cutting after colouring would count escape codes as columns). */
function lineText(line: Line, width: number, color: boolean): string {
  let left = width
  let out = ''
  for (const seg of line) {
    if (left <= 0) break
    const [text, c] = typeof seg === 'string' ? [seg, undefined] : seg
    const part = text.length > left ? cut(text, left) : text
    left -= part.length
    out += c ? paint(c, part, color) : part
  }
  return out
}

/** A line wrapped at the width (a command must be read whole), the colour of each run kept. */
function wrapLine(line: Line, width: number): Line[] {
  const out: Line[] = [[]]
  let left = width
  for (const seg of line) {
    let [text, c] = typeof seg === 'string' ? [seg, undefined] : seg
    while (text.length > left) {
      out[out.length - 1].push([text.slice(0, left), c])
      text = `    ${text.slice(left)}`
      out.push([])
      left = width
    }
    out[out.length - 1].push([text, c])
    left -= text.length
  }
  return out
}

function pad(text: string, width: number, right = false): string {
  const t = cut(text, width)
  return right ? t.padStart(width) : t.padEnd(width)
}

/** The title of a panel with the state of its source when it is not ok. */
function title(name: string, part: Part<unknown>, now: number, rest: Line = []): Line {
  const head: Line = [[name, 'bold']]
  if (part.state === 'ok') return [...head, ...rest]
  if (part.state === 'absent') return [...head, ['  ' + (part.error ?? 'nothing to read'), 'dim']]
  if (part.state === 'unreachable') return [...head, ['  UNREACHABLE: ' + (part.error ?? ''), 'red']]
  const age = part.readAt ? formatDuration(Math.max(0, now - Date.parse(part.readAt))) : '?'
  return [...head, [`  STALE (${age} old): ${part.error ?? ''}`, 'yellow'], ...rest]
}

function outboxLines(v: TopView, now: number, sparkWidth: number): Line[] {
  const part = v.snapshot.outbox
  const o = part.data
  const lv = (key: string) => LEVEL_COLOR[v.judgement.levels[key] ?? 'ok']
  if (!o) return [title('OUTBOX', part, now)]
  const approx = (status: string) => (o.approximate.includes(`≥${status}`) ? '≥' : o.approximate.includes(status) ? '~' : '')
  const others = Object.entries(o.counts).filter(([k]) => !['pending', 'sent', 'dead-letter'].includes(k))
  const first: Line = [
    ...title('OUTBOX', part, now, [` ${o.table}`]),
    '  pending ', [`${approx('pending')}${n(o.counts.pending ?? 0)}`, 'cyan'],
    '  dead-letter ', [`${approx('dead-letter')}${n(o.counts['dead-letter'] ?? 0)}`, lv('deadLetters')],
    `  sent ${approx('sent')}${n(o.counts.sent ?? 0)}`,
    ...others.map((e): Seg => `  ${e[0]} ${n(e[1])}`),
  ]
  const oldest = o.stuck === null ? 'unknown (no time column)' : o.oldestPendingAgeMs === null ? 'none' : formatDuration(o.oldestPendingAgeMs)
  const second: Line = [
    '  oldest pending ', [oldest, lv('oldestPending')],
    '  stuck ', [o.stuck === null ? '-' : `${o.approximate.includes('stuck') ? '≥' : ''}${n(o.stuck)}`, lv('stuck')],
    `  sent/1m ${o.sentLastMinute === null ? '-' : `${o.approximate.includes('sent 1m') ? '≥' : ''}${n(o.sentLastMinute)}`}`,
  ]
  if (v.live && sparkWidth > 0) second.push(['  backlog ', 'dim'], sparkline(v.history.backlog, sparkWidth), ['  age ', 'dim'], sparkline(v.history.oldestS, sparkWidth))
  return [first, second]
}

function groupLine(g: FailureGroup, selected: boolean, width: number): Line {
  return [selected ? ['> ', 'cyan'] : '  ', [pad(n(g.count), 7, true), 'yellow'], '  ', cut(g.key, Math.max(10, width - 12))]
}

/** The queue table's head; the name column takes what the seven figures (56 columns) leave, 12 to 40. */
const queueHead = (nameWidth: number) => `  ${'queue'.padEnd(nameWidth)}${'ready'.padStart(9)}${'unacked'.padStart(9)}${'cons'.padStart(6)}${'in/s'.padStart(8)}${'out/s'.padStart(8)}${'ack/s'.padStart(8)}${'change'.padStart(8)}`

function queueLine(q: QueueFigures, level: Level, selected: boolean, nameWidth: number): Line {
  const name = `${q.name}${q.deadLetter ? ' (DLQ)' : ''}`
  if (!q.exists) return [selected ? ['> ', 'cyan'] : '  ', [`${pad(name, nameWidth)} does not exist`, 'red']]
  const change = q.change === null ? '' : q.change > 0 ? `+${n(q.change)}` : n(q.change)
  return [
    selected ? ['> ', 'cyan'] : '  ',
    pad(name, nameWidth),
    [pad(n(q.ready), 9, true), LEVEL_COLOR[level]],
    pad(q.unacked === null ? '-' : n(q.unacked), 9, true),
    [pad(n(q.consumers), 6, true), !q.deadLetter && q.consumers === 0 ? LEVEL_COLOR[level] : undefined],
    pad(q.rates ? rate(q.rates.publish) : '-', 8, true),
    pad(q.rates ? rate(q.rates.deliver) : '-', 8, true),
    pad(q.rates ? rate(q.rates.ack) : '-', 8, true),
    [pad(change, 8, true), q.deadLetter && (q.change ?? 0) > 0 ? 'yellow' : undefined],
  ]
}

function brokerTitle(v: TopView, now: number, sparkWidth: number, hidden: number): Line {
  const part = v.snapshot.broker
  const b = part.data
  if (!b) return title('QUEUES', part, now)
  const alarms = b.alarms === null ? 'alarms -' : b.alarms.some((a) => a.memory || a.disk) ? `ALARM ${b.alarms.flatMap((a) => [...(a.memory ? [`memory@${a.node}`] : []), ...(a.disk ? [`disk@${a.node}`] : [])]).join(' ')}` : 'no alarms'
  const blocked = b.blockedConnections === null ? '' : `  blocked ${n(b.blockedConnections)}`
  const more: Line = hidden > 0 ? [[` (+${hidden} not shown)`, 'dim']] : []
  const line: Line = [...title('QUEUES', part, now, [...more, ` vhost ${b.vhost} (${b.via === 'management' ? 'management API' : 'passive declares'})  `]), [alarms + blocked, LEVEL_COLOR[v.judgement.levels.alarms ?? 'ok']]]
  if (v.live && sparkWidth > 0 && b.queues.some((q) => q.deadLetter)) line.push(['  DLQ ', 'dim'], sparkline(v.history.dlq, sparkWidth))
  return line
}

function inboxLine(v: TopView, now: number): Line {
  const part = v.snapshot.inbox
  const i = part.data
  if (!i) return title('INBOX', part, now)
  const lag: Line = i.lag === null ? ['  lag - (no processed-at column)'] : i.lag.of === 0 ? ['  lag - (nothing processed yet)'] : ['  lag p50 ', formatDuration(i.lag.p50Ms), ' p99 ', [formatDuration(i.lag.p99Ms), LEVEL_COLOR[v.judgement.levels.inboxLag ?? 'ok']], [` (newest ${n(i.lag.of)})`, 'dim']]
  return [...title('INBOX', part, now, [` ${i.table}`]), `  received/1m ${n(i.receivedLastMinute)}`, '  failed ', [`${i.failedApproximate ? '≥' : ''}${n(i.failed)}`, LEVEL_COLOR[v.judgement.levels.inboxFailed ?? 'ok']], ...lag]
}

function reconcileLine(v: TopView, now: number): Line {
  const part = v.snapshot.reconcile
  const r = part.data
  if (!r) return title('RECONCILE', part, now)
  if (!r.last) return [...title('RECONCILE', part, now), ['  never run (no reconcile in the audit table)', 'dim']]
  const last = r.last
  const ago = formatDuration(Math.max(0, now - Date.parse(last.at)))
  const outcome = last.exitCode === 0 || last.exitCode === 1 ? '' : `  FAILED (exit ${last.exitCode})${last.error ? `: ${last.error}` : ''}`
  const done = r.lastSuccess
  const findings = done ? Object.entries(done.findings).filter(([, c]) => c > 0).map(([k, c]) => `${k} ${n(c)}`).join(', ') : ''
  const summary: Line = done
    ? [`  ${done === last ? '' : `last completed ${humanTime(done.at)}: `}`, [`${n(done.total)} finding${done.total === 1 ? '' : 's'}`, LEVEL_COLOR[v.judgement.levels.reconcile ?? 'ok']], findings ? ` (${findings})` : '', done.durationMs === null ? '' : ` in ${formatDuration(done.durationMs)}`]
    : []
  return [...title('RECONCILE', part, now), ` ${humanTime(last.at)} (${ago} ago)`, [outcome, 'yellow'], ...summary]
}

function lockLines(v: TopView, now: number, room: number): Line[] {
  const part = v.snapshot.locks
  const l = part.data
  if (!l) return [title('LOCKS', part, now)]
  if (l.locks.length === 0) return [[...title('LOCKS', part, now), ['  none held', 'dim']]]
  const one = (lock: (typeof l.locks)[number]): string =>
    `${lock.name}: ${lock.host ?? '?'}/${lock.pid ?? '?'}${lock.command ? ` (${lock.command})` : ''} since ${lock.since ? `${humanTime(lock.since)}, ${formatDuration(Math.max(0, now - Date.parse(lock.since)))}` : '?'}`
  if (room <= 1 || l.locks.length === 1) return [[...title('LOCKS', part, now), `  ${l.locks.map(one).join(' · ')}`]]
  const lines: Line[] = [title('LOCKS', part, now, [` ${l.locks.length} held`])]
  for (const lock of l.locks.slice(0, room - 1)) lines.push([`  ${one(lock)}`])
  return lines
}

/** What to run about the selected queue or failure group: shown, never run. */
export function detailLines(v: TopView): Line[] {
  const sel = v.selected
  if (!sel) return []
  if (sel.panel === 'failures') {
    const g = v.snapshot.outbox.data?.failureGroups?.[sel.row]
    if (!g) return []
    const fragment = commonFragment(g.key)
    return [
      [['FAILURE GROUP', 'bold'], `  ${n(g.count)} of the newest ${n(v.snapshot.outbox.data!.failureGroupsOf)} dead-letter rows`],
      [`  group:  ${g.key}`],
      [`  sample: ${g.sample}`],
      [''],
      [['  to look at them:', 'dim']],
      ['    msgops outbox list --status dead-letter'],
      ...(fragment ? ([[['  to retry them (look at the dry run first):', 'dim']], [`    msgops outbox requeue --error-contains ${shellQuote(fragment)} --dry-run`]] as Line[]) : []),
    ]
  }
  const q = v.snapshot.broker.data?.queues[sel.row]
  if (!q) return []
  const lines: Line[] = [
    [['QUEUE', 'bold'], `  ${q.name}${q.deadLetter ? ' (dead-letter queue)' : ''} in vhost ${v.snapshot.broker.data!.vhost}`],
    [`  ready ${n(q.ready)} · unacked ${q.unacked === null ? '-' : n(q.unacked)} · consumers ${n(q.consumers)}${q.rates ? ` · in ${rate(q.rates.publish)}/s out ${rate(q.rates.deliver)}/s ack ${rate(q.rates.ack)}/s` : ''}`],
    [''],
  ]
  if (q.deadLetter)
    lines.push([['  to look at them:', 'dim']], [`    msgops dlq inspect ${shellQuote(q.name)}`], [['  to replay them (look at the dry run first):', 'dim']], [`    msgops dlq replay ${shellQuote(q.name)} --dry-run`])
  else lines.push([['  its dead letters: the queue its x-dead-letter-exchange routes to', 'dim']], ['    msgops dlq inspect QUEUE'], [['  its topology:', 'dim']], ['    msgops topology plan FILE'])
  return lines
}

function shellQuote(text: string): string {
  return /^[\w./:@-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`
}

const HELP: Line[] = [
  [['KEYS', 'bold']],
  ['  q        quit (Ctrl-C too)'],
  ['  p        pause / resume the refresh'],
  ['  r        refresh now'],
  ['  Tab      next panel (failure groups, queues)'],
  ['  ↑ ↓      move within the panel'],
  ['  Enter    the detail of the selected queue or failure group, with the msgops command to act on it'],
  ['  Esc      back'],
  ['  ?        this help'],
]

/**
 * The screen of `msgops top` as lines of at most `width` columns and at most `height` lines: every panel keeps its
 * title line; failure groups and queues share what is left, each saying how many it could not show.
 */
export function renderTop(v: TopView): string[] {
  const now = Date.parse(v.snapshot.at)
  const width = Math.max(20, v.width)
  const sparkWidth = Math.max(0, Math.min(40, Math.floor((width - 70) / 2)))
  const s = v.snapshot
  const header: Line = [['msgops top', 'bold'], `  ${humanTime(s.at)}`, v.live ? `  every ${formatDuration(v.intervalMs)}` : '', v.paused ? ['  PAUSED', 'yellow'] : '', [`  read in ${n(s.tookMs)} ms`, 'dim']]
  if (v.judgement.alerts.length > 0) header.push(['  ' + `${v.judgement.alerts.length} alert${v.judgement.alerts.length === 1 ? '' : 's'}`, 'red'])
  const footer: Line = [['q quit  p pause  r refresh  Tab/↑↓ select  Enter detail  ? help', 'dim']]

  let body: Line[]
  if (v.live && v.help) body = HELP
  else if (v.live && v.detail && v.selected) body = detailLines(v).flatMap((line) => wrapLine(line, width))
  else {
    const outbox = outboxLines(v, now, sparkWidth)
    const groups = s.outbox.data?.failureGroups ?? []
    const queues = s.broker.data?.queues ?? []
    const inbox = [inboxLine(v, now)]
    const reconcile = [reconcileLine(v, now)]
    const lockCount = s.locks.data?.locks.length ?? 0
    const fixed = 1 + outbox.length + 1 + (queues.length > 0 ? 1 : 0) + inbox.length + reconcile.length + 1 + (v.live ? 1 : 0) + (groups.length > 0 ? 1 : 0)
    let room = v.height === Infinity ? Infinity : Math.max(0, v.height - fixed)
    let groupRows = Math.min(groups.length, 5)
    let queueRows = queues.length
    // Queues give way first down to 3, then failure groups down to 1, then queues down to 1.
    while (groupRows + queueRows > room && queueRows > Math.min(3, queues.length)) queueRows--
    while (groupRows + queueRows > room && groupRows > Math.min(1, groups.length)) groupRows--
    while (groupRows + queueRows > room && queueRows > Math.min(1, queues.length)) queueRows--
    room -= groupRows + queueRows
    const alertRows = Math.min(v.judgement.alerts.length, Math.max(0, room - Math.max(0, lockCount - 1)))
    room -= alertRows
    const sel = v.live ? v.selected : undefined
    body = [...outbox]
    if (groups.length > 0) {
      const more = groups.length - groupRows
      body.push([['  failure groups', 'dim'], [` of the newest ${n(s.outbox.data!.failureGroupsOf)} dead-letter rows${more > 0 ? ` (+${more} not shown)` : ''}`, 'dim']])
      const first = sel?.panel === 'failures' ? Math.max(0, Math.min(sel.row - groupRows + 1, groups.length - groupRows)) : 0
      for (let i = first; i < first + groupRows; i++) body.push(groupLine(groups[i], sel?.panel === 'failures' && sel.row === i, width))
    }
    body.push(brokerTitle(v, now, sparkWidth, queues.length - queueRows))
    if (s.broker.data && queues.length === 0) body[body.length - 1].push(['  no queues in the vhost', 'dim'])
    if (queues.length > 0) {
      const nameWidth = Math.max(12, Math.min(40, width - 58))
      body.push([[queueHead(nameWidth), 'dim']])
      const first = sel?.panel === 'queues' ? Math.max(0, Math.min(sel.row - queueRows + 1, queues.length - queueRows)) : 0
      for (let i = first; i < first + queueRows; i++) body.push(queueLine(queues[i], v.judgement.levels[`queue:${queues[i].name}`] ?? 'ok', sel?.panel === 'queues' && sel.row === i, nameWidth))
    }
    body.push(...inbox, ...reconcile, ...lockLines(v, now, room + 1))
    for (const alert of v.judgement.alerts.slice(0, alertRows)) body.push([[`ALERT: ${alert}`, 'red']])
  }
  const lines = [header, ...body]
  if (v.live) {
    const limit = Math.max(1, v.height - 1)
    while (lines.length < limit) lines.push([''])
    lines.length = Math.min(lines.length, limit)
    lines.push(footer)
  }
  return lines.map((line) => lineText(line, width, v.color))
}
