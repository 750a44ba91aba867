/**
 * `tastemaker models list [--data-dir D] [--json]` and
 * `tastemaker models activate <name> <version> [--force] [--data-dir D]`: inspect the model registry and
 * switch the active version (refused when the candidate's validation metric is worse, unless --force).
 * Serving replicas pick the switch up through ModelRegistry.onActiveChange. Last stdout line is JSON.
 */
import type { Command } from 'commander';
import { loadConfig } from '../../core/config.js';
import { ModelRegistry } from '../../registry/index.js';

function registryFor(dataDir: string | undefined, configFile: string | undefined): ModelRegistry {
  const config = loadConfig({ env: process.env, file: configFile, flags: { dataDir } });
  return new ModelRegistry(config.dataDir);
}

export function register(program: Command): void {
  const models = program.command('models').description('List and activate trained model versions');
  models
    .command('list')
    .description('List model versions with their metrics; * marks the active one')
    .option('--data-dir <dir>', 'data dir (env TASTEMAKER_DATA_DIR, default ./.tastemaker)')
    .option('--config <file>', 'JSON config file')
    .option('--model <name>', 'only this model')
    .option('--json', 'print only the JSON summary')
    .action((o: { dataDir?: string; config?: string; model?: string; json?: boolean }) => {
      const reg = registryFor(o.dataDir, o.config);
      const versions = reg.list(o.model);
      if (!o.json) {
        if (versions.length === 0) console.log(`no models under ${reg.root}`);
        for (const v of versions) {
          const m = Object.entries(v.metrics).map(([k, x]) => `${k}=${Number.isInteger(x) ? x : x.toFixed(4)}`).join(' ');
          console.log(`${v.active ? '*' : ' '} ${v.name} ${v.version}  ${new Date(v.createdAt).toISOString()}  ${m}`);
        }
      }
      console.log(JSON.stringify({ models: versions }));
    });
  models
    .command('activate')
    .description('Make <version> the active version of <name>')
    .argument('<name>', 'model name, e.g. twotower')
    .argument('<version>', 'version, e.g. v3')
    .option('--force', 'activate even if its validation metric is worse than the active one')
    .option('--data-dir <dir>', 'data dir (env TASTEMAKER_DATA_DIR, default ./.tastemaker)')
    .option('--config <file>', 'JSON config file')
    .action((name: string, version: string, o: { force?: boolean; dataDir?: string; config?: string }) => {
      const rec = registryFor(o.dataDir, o.config).activate(name, version, { force: o.force === true });
      console.log(JSON.stringify({ model: name, ...rec }));
    });
}
