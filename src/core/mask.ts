/** scheme://user:password@ and the malformed scheme:/user:password@ or scheme:user:password@ that URL parsers accept. */
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/{0,3})([^:@/\s]*):([^@/\s]*)@/gi

/** Replaces the password of every URL in a text with ****. */
export function maskSecrets(text: string): string {
  return text.replaceAll(URL_CREDENTIALS, (_m, scheme: string, user: string) => `${scheme}${user}:****@`)
}

/** A URL for display: password masked, nothing else changed. */
export function maskUrl(url: string): string {
  return maskSecrets(url)
}

const SECRET_FLAG = /^--?(password|pass|secret|token)(=|$)/i

/** Command-line arguments for the audit log: URL passwords and values of secret-looking flags masked. */
export function maskArgv(argv: readonly string[]): string[] {
  const out: string[] = []
  let hideNext = false
  for (const arg of argv) {
    if (hideNext) {
      out.push('****')
      hideNext = false
      continue
    }
    const match = SECRET_FLAG.exec(arg)
    if (match) {
      if (match[2] === '=') out.push(arg.slice(0, arg.indexOf('=') + 1) + '****')
      else {
        out.push(arg)
        hideNext = true
      }
      continue
    }
    out.push(maskSecrets(arg))
  }
  return out
}
