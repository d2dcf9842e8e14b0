import type {DemoReport} from '../core/demo/run.js'
import {paint} from './color.js'
import {renderTable} from './table.js'
import type {Service} from './target.js'

const WHAT: Record<keyof DemoReport['injected'], string> = {
  message_stuck: 'crashed between commit and publish: outbox row left pending',
  order_without_message: 'order committed without its outbox row',
  sent_not_consumed: 'published, then lost before the consumer recorded it, or poison (dead-lettered)',
  consumed_failed: 'consumer failed: inbox record left failed',
  cache_drift: 'cache write skipped or wrong after the commit',
  duplicates_discarded: 'delivered twice: the inbox discarded the second copy',
  dead_lettered: 'poison messages rejected into the dead-letter queue',
}

export function renderDemo(report: DemoReport): string {
  if (report.orders === 0)
    return `${paint('bold', 'consumer drained the queue')}: ${report.consumed} message(s) processed, ${report.injected.duplicates_discarded} duplicate(s) discarded, ${report.injected.dead_lettered} rejected`
  const reset = report.reset?.map((q) => `${q.queue} ${q.removed} demo message(s) removed${q.kept > 0 ? `, ${q.kept} other(s) left in place` : ''}`).join(' · ')
  const rows = Object.entries(report.injected).map(([name, count]) => [name, count, WHAT[name as keyof DemoReport['injected']]])
  return [
    ...(reset ? [paint('dim', `reset: ${reset}`)] : []),
    `${paint('bold', `${report.orders.toLocaleString('en-US')} orders`)} in ${report.seconds}s (seed ${report.seed}, fault rate ${report.faultRate}): ${report.published} messages published by the relay, ${report.consumed} consumed`,
    renderTable(['injected (reconcile check)', 'count', 'what happened'], rows, {shrink: [2]}),
    paint('dim', 'Now look: msgops outbox status · msgops dlq inspect order_queue.dlq · msgops reconcile (exits 1: it finds the above)'),
  ].join('\n')
}

/** The demo's confirmation names every service it writes into. */
export function demoQuestion(f: {orders: number; reset: boolean; 'consume-only': boolean}, target: (service: Service) => string): string {
  const services = `${target('mysql')}, ${target('amqp')} and ${target('redis')}`
  if (f['consume-only']) return `Consume order_queue into the inbox, orders and cache of ${services}?`
  const reset = f.reset ? ', after removing the earlier demo run (only its "demo-" rows, keys and messages)' : ''
  return `Write ${f.orders.toLocaleString('en-US')} demo orders (with injected faults) into ${services}${reset}?`
}
