import {BaseCommand} from '../../base-command.js'
import {flattenConfig} from '../../config/load.js'
import {maskSecrets} from '../../core/mask.js'
import {type ConfigEntry, renderConfig} from '../../render/config.js'

export default class ConfigShow extends BaseCommand<typeof ConfigShow> {
  static summary = 'Show the effective configuration and where each value came from.'
  static description = 'Each value is shown with its source: default, file, profile, env (MSGOPS_*) or flag. Passwords in URLs are masked. Nothing is connected to.'
  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --profile prod --json']

  async run(): Promise<{file: string | null; profile: string | null; values: ConfigEntry[]}> {
    const values = flattenConfig(this.settings, this.loaded.sources).map((e) => ({
      ...e,
      value: typeof e.value === 'string' ? maskSecrets(e.value) : e.value,
    }))
    this.print(renderConfig(values, this.loaded.file, this.loaded.profile))
    return {file: this.loaded.file ?? null, profile: this.loaded.profile ?? null, values}
  }
}
