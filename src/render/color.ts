const CODES = {red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39], dim: [2, 22], bold: [1, 22]} as const
export type Color = keyof typeof CODES

/** Colour only for a terminal that wants it: NO_COLOR wins, FORCE_COLOR forces, pipes and files get plain text. */
export function colorEnabled(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true
  return stream.isTTY === true && process.env.TERM !== 'dumb'
}

export function paint(color: Color, text: string, enabled = colorEnabled()): string {
  if (!enabled) return text
  const [open, close] = CODES[color]
  return `\u001B[${open}m${text}\u001B[${close}m`
}

export function okMark(ok: boolean): string {
  return ok ? paint('green', '✓') : paint('red', '✗')
}
