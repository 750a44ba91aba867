/**
 * The model registry: `createModel(name, params)` is how the CLI, the eval harness and training jobs get
 * a Recommender. Model files add themselves with one `registerModel` line here (or from their own
 * module, for optional models), so nothing else needs to know the list.
 */
import { ValidationError } from '../core/errors.js';
import { BlendRecommender } from './blend.js';
import { BprModel } from './bpr.js';
import { EaseModel } from './ease.js';
import { ItemKnnModel } from './itemknn.js';
import { PopularModel } from './popular.js';
import { SasrecRecommender } from './sasrec-train.js';
import { TwoTowerRecommender } from './twotower-train.js';
import type { Recommender } from './types.js';

export type ModelFactory = (params?: Record<string, unknown>) => Recommender;

const registry = new Map<string, ModelFactory>();

export function registerModel(name: string, factory: ModelFactory): void {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new ValidationError(`bad model name '${name}'`, [{ path: 'model', message: 'lowercase letters, digits, dashes' }]);
  registry.set(name, factory);
}

export function modelNames(): string[] {
  return [...registry.keys()];
}

export function createModel(name: string, params?: Record<string, unknown>): Recommender {
  const factory = registry.get(name);
  if (!factory) {
    throw new ValidationError(`unknown model '${name}'`, [{ path: 'model', message: `must be one of ${modelNames().join(', ')}` }]);
  }
  return factory(params ?? {});
}

registerModel('popular', (p) => new PopularModel(p));
registerModel('itemknn', (p) => new ItemKnnModel(p));
registerModel('ease', (p) => new EaseModel(p));
registerModel('bpr', (p) => new BprModel(p));
registerModel('sasrec', (p) => new SasrecRecommender(p));
registerModel('twotower', (p) => new TwoTowerRecommender(p));
registerModel('blend', (p) => new BlendRecommender((name, mp) => createModel(name, mp), p));
