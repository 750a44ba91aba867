/** The subcommands, in help order. Add a command by adding its module's `register` here. */
import type { Command } from 'commander';
import { register as registerImport } from './import.js';
import { register as registerBench } from './bench.js';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerImport, registerBench];
