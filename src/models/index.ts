/**
 * The model table: every model the CLI, the eval harness and the trainer can name, with how to build it
 * (`createModel(name, params)`) and how to load a saved one (`loadModel(name, artifacts)`). Model files
 * add themselves with one `registerModel` line here (or from their own module, for optional models), so
 * nothing else needs to know the list — the round-trip test (models.test.ts) and the trainer loop over it.
 */
import { ValidationError } from '../core/errors.js';
import { BlendRecommender } from './blend.js';
import { BprModel } from './bpr.js';
import { EaseModel } from './ease.js';
import { ItemKnnModel } from './itemknn.js';
import { PopularModel } from './popular.js';
import { SasrecRecommender } from './sasrec-train.js';
import { TwoTowerRecommender } from './twotower-train.js';
import type { Model, ModelKind, SavedModel } from './types.js';

export { parseModelParams } from './common.js';
export type { FitContext, FitProgress, FitReport, ItemSideInfo, Model, ModelKind, Recommender, SavedModel } from './types.js';

const kinds = new Map<string, ModelKind>();

export function registerModel(name: string, kind: ModelKind): void {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) throw new ValidationError(`bad model name '${name}'`, [{ path: 'model', message: 'lowercase letters, digits, dashes' }]);
  kinds.set(name, kind);
}

/** Every registered model name, in registration order. */
export function modelNames(): string[] {
  return [...kinds.keys()];
}

/** The models the engine serves (their active versions are loaded by src/engine/models.ts). */
export function servedModelNames(): string[] {
  return [...kinds].filter(([, k]) => k.served === true).map(([n]) => n);
}

function kindOf(name: string): ModelKind {
  const kind = kinds.get(name);
  if (!kind) throw new ValidationError(`unknown model '${name}'`, [{ path: 'model', message: `must be one of ${modelNames().join(', ')}` }]);
  return kind;
}

export function createModel(name: string, params?: Record<string, unknown>): Model {
  return kindOf(name).create(params ?? {});
}

/** Rebuilds a fitted model from what its toArtifacts() returned (e.g. read back from the registry). */
export function loadModel(name: string, saved: SavedModel): Model {
  return kindOf(name).fromArtifacts(saved);
}

registerModel('popular', { create: (p) => new PopularModel(p), fromArtifacts: (s) => PopularModel.fromArtifacts(s) });
registerModel('itemknn', { create: (p) => new ItemKnnModel(p), fromArtifacts: (s) => ItemKnnModel.fromArtifacts(s) });
registerModel('ease', { create: (p) => new EaseModel(p), fromArtifacts: (s) => EaseModel.fromArtifacts(s) });
registerModel('bpr', { create: (p) => new BprModel(p), fromArtifacts: (s) => BprModel.fromArtifacts(s) });
// Two-tower before SASRec: the trainer runs served models in this order, quickest useful one first.
registerModel('twotower', { create: (p) => new TwoTowerRecommender(p), fromArtifacts: (s) => TwoTowerRecommender.fromArtifacts(s.config, s.weights), served: true });
registerModel('sasrec', { create: (p) => new SasrecRecommender(p), fromArtifacts: (s) => SasrecRecommender.fromArtifacts(s.config, s.weights), served: true });
registerModel('blend', {
  create: (p) => new BlendRecommender((name, mp) => createModel(name, mp), p),
  fromArtifacts: (s) => BlendRecommender.fromArtifacts(s, (name, mp) => createModel(name, mp), loadModel),
});
