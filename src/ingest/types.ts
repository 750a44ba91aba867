/** Contracts of the ingest stage shared by HTTP batch routes and file importers. */
import type { FieldIssue } from '../core/errors.js';

/** One rejected row of a batch: its 0-based index in the request and every problem found. */
export interface RejectedRow {
  index: number;
  issues: FieldIssue[];
}

/** Response of a batch write (POST /v1/items|users|events and `tastemaker import`). */
export interface BatchResult {
  /** Rows valid and stored (including idempotent duplicates, which are counted in `duplicates`). */
  accepted: number;
  duplicates: number;
  rejected: RejectedRow[];
  /** Events only: items created because events referenced them and autoInsertItems is on (absent when 0). */
  itemsCreated?: number;
}
