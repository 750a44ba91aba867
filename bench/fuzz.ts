/**
 * The property-based HTTP fuzzer of `test/fuzz.test.ts` at full size: 10,000 generated requests (items,
 * users and events from the schemas, reads with generated query strings, deletes, and every input-hygiene
 * case of issue 13) against the real app over a seeded synthetic catalog, with the invariants checked
 * after each run of 1–4 requests (test/fuzz-model.ts). It counts violations instead of stopping at the
 * first, so the JSON shows how far from zero each invariant is.
 *
 *   tastemaker bench fuzz --json [--requests 10000] [--seed 20261205]
 */
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { ValidationError } from '../src/core/errors.js';
import { startStack } from '../test/helpers.js';
import { addReports, emptyReport, executeRun, runArb, type FuzzRequest } from '../test/fuzz-model.js';

const MAX_REQUESTS = 1_000_000;

export async function run(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      requests: { type: 'string', default: '10000' },
      seed: { type: 'string', default: '20261205' },
    },
    strict: true,
  });
  const requests = Number(values.requests);
  const seed = Number(values.seed);
  if (!/^[1-9][0-9]*$/.test(values.requests) || requests > MAX_REQUESTS) {
    throw new ValidationError(`--requests must be a whole number in 1..${MAX_REQUESTS}`, [{ path: '--requests', message: `1..${MAX_REQUESTS}` }]);
  }
  if (!/^(0|[1-9][0-9]*)$/.test(values.seed) || seed > 2 ** 31 - 1) {
    throw new ValidationError('--seed must be a whole number below 2^31', [{ path: '--seed', message: 'whole number' }]);
  }

  const s = await startStack({ users: 300, items: 400, eventsPerUser: 30, batchSize: 200 });
  try {
    const world = { itemIds: s.data.items.map((i) => i.id), userIds: s.data.users.map((u) => u.id) };
    // Runs average 2.5 requests; sample more than enough, deterministically from the seed, and stop at the target.
    const runs: FuzzRequest[][] = fc.sample(runArb(world), { numRuns: Math.ceil(requests / 2) + 10, seed });
    let total = emptyReport();
    let runsDone = 0;
    const t0 = performance.now();
    for (const reqs of runs) {
      const left = requests - total.requests;
      if (left <= 0) break;
      total = addReports(total, await executeRun(s, reqs.slice(0, left), runsDone++));
    }
    const seconds = (performance.now() - t0) / 1000;
    return {
      bench: 'fuzz',
      seed,
      catalog: { items: s.data.items.length, users: s.data.users.length, events: s.data.events.length },
      requests: total.requests,
      runs: runsDone,
      '5xx': total.serverErrors,
      badErrorShape: total.badErrorShape,
      nanScores: total.nanScores,
      emptyTrending: total.emptyTrending,
      emptyHome: total.emptyHome,
      countMismatches: total.countMismatches,
      countMismatchesByField: total.mismatchByField,
      knownBadAccepted: total.badAccepted,
      unreadableIds: total.unreadableIds,
      firstProblems: total.problems.slice(0, 5),
      seconds: Math.round(seconds * 10) / 10,
      requestsPerSec: Math.round(total.requests / seconds),
      node: process.version,
    };
  } finally {
    await s.close();
  }
}
