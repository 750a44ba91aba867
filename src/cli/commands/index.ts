/** The subcommands, in help order. Add a command by adding its module's `register` here. */
import type { Command } from 'commander';
import { register as registerImport } from './import.js';
import { register as registerBench } from './bench.js';
import { register as registerDemo } from './demo.js';
import { register as registerServe } from './serve.js';
import { register as registerTrain } from './train.js';
import { register as registerModels } from './models.js';
import { register as registerEval } from './eval.js';
import { register as registerSearch } from './search.js';
import { register as registerTrainRanker } from './train-ranker.js';
import { register as registerTrainer } from './trainer.js';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerDemo, registerServe, registerImport, registerEval, registerBench, registerTrain, registerTrainer, registerTrainRanker, registerModels, registerSearch];
