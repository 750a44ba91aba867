#!/usr/bin/env node
// Entry point: registers the TypeScript loader (tsx) so the CLI runs from source after `npm ci`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
