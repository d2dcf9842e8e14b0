import {BaseCommand} from '../../base-command.js'
import {flattenConfig} from '../../config/load.js'
import {secretSources} from '../../config/secrets.js'
import {maskSecrets} from '../../core/mask.js'
import {type ConfigEntry, renderConfig} from '../../render/config.js'

export default class ConfigShow extends BaseCommand<typeof ConfigShow> {
  static summary = 'Show the effective configuration and where each value came from.'
  static description = 'Each value is shown with its source: default, file, profile, env (MSGOPS_*) or flag. Passwords are masked; each service\'s password row says where it comes from (MSGOPS_<SERVICE>_PASSWORD, <service>.passwordFile, or the URL). Nothing is connected to.'
  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --profile prod --json']

  async run(): Promise<{file: string | null; profile: string | null; values: ConfigEntry[]}> {
    const values = flattenConfig(this.settings, this.loaded.sources).map((e) => ({
      ...e,
      value: typeof e.value === 'string' ? maskSecrets(e.value) : Array.isArray(e.value) ? e.value.map((v) => (typeof v === 'string' ? maskSecrets(v) : v)) : e.value,
    }))
    // Where each password comes from, masked: the variable, the file, the URL, or nowhere.
    for (const secret of Object.values(secretSources(this.settings, process.env)))
      values.push({key: secret.key, value: secret.source === 'none' ? null : `****${secret.where ? ` (${secret.where})` : ''}`, source: secret.source === 'env' ? 'env' : secret.source === 'file' ? this.loaded.sources[secret.key.replace(/password$/, 'passwordFile')] ?? 'file' : this.loaded.sources[secret.key.replace(/password$/, 'url')] ?? 'default'})
    this.print(renderConfig(values, this.loaded.file, this.loaded.profile))
    return {file: this.loaded.file ?? null, profile: this.loaded.profile ?? null, values}
  }
}
