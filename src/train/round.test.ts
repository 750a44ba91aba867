import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobBudgetMs, selectJobs } from './round.js';

const MIN = 60_000;
const SHARES = { twotower: 3, sasrec: 2, blend: 0.5, ranker: 0.5 };

test('a round reserves only the light jobs\' reserves while the fits run (worked example: 30 minutes)', () => {
  const jobs = selectJobs(['twotower', 'sasrec', 'blend', 'ranker']);
  // twotower: blend and ranker would get 30 × 0.5 / 6 = 2.5 min each; they reserve min(2.5, 2) + min(2.5, 3) = 4.5;
  // the fits split 25.5 by 3 : 2.
  assert.ok(Math.abs(jobBudgetMs(jobs, 30 * MIN, SHARES) - 15.3 * MIN) < 1);
  // The two-tower stopped after 4 min: SASRec gets 26 − min(2, 26 × .5 / 3) − min(3, 26 × .5 / 3) = 21 min.
  assert.ok(Math.abs(jobBudgetMs(jobs.slice(1), 26 * MIN, SHARES) - 21 * MIN) < 1);
  // A light job gets its share of what is left, as before: blend 0.5 / 1 of 5 min.
  assert.ok(Math.abs(jobBudgetMs(jobs.slice(2), 5 * MIN, SHARES) - 2.5 * MIN) < 1);
  // The last job gets everything left.
  assert.equal(jobBudgetMs(jobs.slice(3), 4 * MIN, SHARES), 4 * MIN);
  // A short round: the reserves shrink to the light jobs' shares (never more than share-based).
  const short = jobBudgetMs(jobs, 6 * MIN, SHARES);
  assert.ok(Math.abs(short - ((6 - 1) * 3) / 5 * MIN) < 1, `got ${short / MIN}`);
  // Without light jobs the old rule holds exactly.
  assert.equal(jobBudgetMs(selectJobs(['twotower', 'sasrec']), 10 * MIN, SHARES), 6 * MIN);
});
