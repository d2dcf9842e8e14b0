import {z} from 'zod'

/**
 * The pieces every --json schema is built from, and the compile-time tie between a schema and what a command's run()
 * returns. The core's types stay plain TypeScript: the schemas live here, beside the other renderings.
 */

/** A number of rows, messages or keys. */
export const count = z.number().int().nonnegative()

/** A duration in milliseconds. */
export const ms = (what: string) => z.number().nonnegative().describe(`${what}, in milliseconds`)

/** An age by the database's clock: negative for a row whose time is in the future (written in another time zone). */
export const ageMs = (what: string) => z.number().int().nullable().describe(`${what}, in milliseconds by the database's clock (negative when the time is in the future); null when the table has no time column`)

/** An instant as JSON keeps it: ISO 8601 in UTC (`2026-12-01T08:53:38.123Z`). */
export const isoTime = (what: string) => z.iso.datetime().describe(`${what}: ISO 8601 instant in UTC, e.g. 2026-12-01T08:53:38.123Z`)

/** Reconcile's window and sample times: the database's own DATETIME text, in the database session's time zone. */
export const dbTime = (what: string) =>
  z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?$/)
    .describe(`${what}: database time, YYYY-MM-DD HH:MM:SS.ffffff in the database session's time zone (no zone suffix)`)

/** A human duration as msgops prints and parses it: 500ms, 5m, 1h30m. */
export const durationText = (what: string) => z.string().describe(`${what}, as a duration such as 5m or 1h30m`)

/** A status value as configured: the reference schema's text, or a team's integer. */
export const statusValue = z.union([z.string(), z.number().int()])

/** What `show ID` prints (exit 1) when no row or record has the id. */
export const notFound = z.strictObject({found: z.literal(false), id: z.string().describe('the id asked for')}).describe('nothing has this id (exit 1)')

/** An object whose keys are exactly `keys`, each holding `value`: a record over a closed set of names, kept in step with it. */
export function keyed<K extends string, V extends z.ZodType>(keys: readonly K[], value: V): z.ZodObject<{[P in K]: V}, z.core.$strict> {
  return z.strictObject(Object.fromEntries(keys.map((k) => [k, value])) as {[P in K]: V})
}

/** The same, each key optional (Partial<Record<K, V>>): only the names that ran are present. */
export function keyedPartial<K extends string, V extends z.ZodType>(keys: readonly K[], value: V): z.ZodObject<{[P in K]: z.ZodOptional<V>}, z.core.$strict> {
  return z.strictObject(Object.fromEntries(keys.map((k) => [k, value.optional()])) as {[P in K]: z.ZodOptional<V>})
}

/** What a command's run() resolves to: the value oclif prints with --json. */
export type RunResult<C extends abstract new (...args: never[]) => {run(): Promise<unknown>}> = Awaited<ReturnType<InstanceType<C>['run']>>

/** Identical types, not merely assignable ones: an optional field added on one side only is a difference too. */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false

/**
 * `true satisfies Agree<z.output<typeof schema>, RunResult<typeof Command>>` compiles only while the schema and the
 * TypeScript type describe the same value; otherwise tsc names which side has what the other lacks.
 */
export type Agree<Schema, Core> = [Schema] extends [Core]
  ? [Core] extends [Schema]
    ? Same<Deep<Schema>, Deep<Core>> extends true
      ? true
      : 'the schema and the TypeScript type differ in an optional field'
    : 'a value of the TypeScript type fails the schema: the type has a field or a value the schema does not allow'
  : 'a value the schema accepts is not of the TypeScript type: the schema lacks a required field, or allows a value the type does not'

/** Normalises both sides for Same: interfaces and zod's inferred objects become plain mapped types, recursively. */
type Deep<T> = T extends readonly (infer E)[] ? Deep<E>[] : T extends object ? (unknown extends T ? T : {[K in keyof T]: Deep<T[K]>}) : T

/**
 * One direction only, for a TypeScript type looser than its schema (`Record<string, unknown>` items): every value the
 * schema accepts is of the type, so a field renamed or removed in the type still fails to compile.
 */
export type Within<Schema, Core> = [Schema] extends [Core] ? true : 'a value the schema accepts is not of the TypeScript type'
