/** The one human form of an instant in tables and summaries: UTC to the second, "2026-12-01 08:53:38Z" (JSON keeps ISO 8601). */
export function humanTime(iso: string | null | undefined): string {
  if (!iso) return '-'
  const date = new Date(iso)
  return Number.isNaN(date.getTime()) ? iso : `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`
}
