/**
 * The ingest stage's public door: dataset readers for offline training/eval, batch validation, the
 * Ingestor write path (HTTP batch routes, demo) and file importers (`tastemaker import`).
 */
export { DatasetFormat, readDataset } from './datasets.js';
export { validateBatch, validateEvents, validateItems, validateUsers, deriveEventId } from './validate.js';
export type { BatchField, ValidateOptions, ValidatedBatch } from './validate.js';
export { Ingestor } from './ingestor.js';
export { minimalItem, resolveUnknownItems } from './unknown-items.js';
export type { ResolvedEvents, UnknownItemsOptions } from './unknown-items.js';
export type { IngestListeners, IngestorOptions } from './ingestor.js';
export { ImportKind, importFile } from './import.js';
export type { ImportOptions, ImportProgress, ImportSummary } from './import.js';
export type { BatchResult, RejectedRow } from './types.js';
