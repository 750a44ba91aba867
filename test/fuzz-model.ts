/**
 * The property-based HTTP fuzzer shared by `test/fuzz.test.ts` (CI size, a few seconds) and
 * `bench/fuzz.ts` (10,000 requests): fast-check generators over the item, user and event schemas and
 * the query strings of the read routes — mostly valid rows, salted with every input-hygiene case of
 * issue 13 (lone UTF-16 surrogates, bad percent-encoding, `n=0x10`/`1e2`/`+10`/`010`/padded numbers,
 * events for unknown items) — and the invariants checked after each run of a few requests:
 *
 * - no 5xx; every error in the documented shape `{error, message, issues?}` and nothing else;
 * - no score that is not a finite number (NaN serialises as null) in any recommendation;
 * - `trending` and `home` for a brand-new user are non-empty;
 * - `/healthz` counts equal the store's.
 *
 * A run is a list of requests; `executeRun` sends them through `app.inject` and returns what it saw,
 * so the test can assert (and shrink a failure) while the bench counts.
 */
import fc from 'fast-check';
import { hasControlChars } from '../src/core/schemas.js';
import { ADMIN, CLIENT, type TestStack } from './helpers.js';

export interface FuzzRequest {
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  payload?: string;
  /** Known bad (a hygiene case: bad n, bad percent-encoding, a lone surrogate in the path…): must be a 4xx. */
  mustFail?: boolean;
}

/** What one run saw; every field but `requests` should stay 0. */
export interface RunReport {
  requests: number;
  serverErrors: number;
  /** Error responses not in the documented shape. */
  badErrorShape: number;
  /** Recommendation items whose score is not a finite number. */
  nanScores: number;
  emptyTrending: number;
  emptyHome: number;
  /** /healthz items/users/events differing from the store's counts (one per differing field)… */
  countMismatches: number;
  /** …and per field. */
  mismatchByField: { items: number; users: number; events: number };
  /** Known-bad requests (FuzzRequest.mustFail) not answered with a 4xx. */
  badAccepted: number;
  /** Ids accepted by a POST batch that GET then cannot read (the lone-surrogate bug of issue 13). */
  unreadableIds: number;
  /** The first few problems, for the assertion message. */
  problems: string[];
}

export function emptyReport(): RunReport {
  return {
    requests: 0, serverErrors: 0, badErrorShape: 0, nanScores: 0, emptyTrending: 0, emptyHome: 0, countMismatches: 0,
    mismatchByField: { items: 0, users: 0, events: 0 }, badAccepted: 0, unreadableIds: 0, problems: [],
  };
}

export function addReports(a: RunReport, b: RunReport): RunReport {
  return {
    requests: a.requests + b.requests,
    serverErrors: a.serverErrors + b.serverErrors,
    badErrorShape: a.badErrorShape + b.badErrorShape,
    nanScores: a.nanScores + b.nanScores,
    emptyTrending: a.emptyTrending + b.emptyTrending,
    emptyHome: a.emptyHome + b.emptyHome,
    countMismatches: a.countMismatches + b.countMismatches,
    mismatchByField: {
      items: a.mismatchByField.items + b.mismatchByField.items,
      users: a.mismatchByField.users + b.mismatchByField.users,
      events: a.mismatchByField.events + b.mismatchByField.events,
    },
    badAccepted: a.badAccepted + b.badAccepted,
    unreadableIds: a.unreadableIds + b.unreadableIds,
    problems: [...a.problems, ...b.problems].slice(0, 10),
  };
}

// ---------------------------------------------------------------------------------------------------
// Generators

const LONE_SURROGATES = ['\ud800', '\udbff', '\udc00', '\udfff'];

/** Text salted with the hard cases: lone surrogates, astral characters, controls, URL metacharacters. */
const text = (maxLength: number) =>
  fc.oneof(
    { arbitrary: fc.string({ maxLength, unit: 'grapheme' }), weight: 6 },
    { arbitrary: fc.string({ maxLength: Math.min(maxLength, 20), unit: 'binary' }), weight: 2 },
    { arbitrary: fc.tuple(fc.string({ maxLength: 8 }), fc.constantFrom(...LONE_SURROGATES), fc.string({ maxLength: 8 })).map(([a, s, b]) => a + s + b), weight: 2 },
    { arbitrary: fc.constantFrom('🎵 song', 'naïve café', '/a/b', 'x?y#z', '%41', 'a+b', '\u0000', '\t', ''), weight: 1 },
  );

/**
 * Id pools: seeded catalog ids (known), fresh fuzz ids (become new items/users), and broken ones
 * (empty, too long, control characters, lone surrogates).
 */
function idArb(known: readonly string[], prefix: string): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.constantFrom(...known), weight: 6 },
    { arbitrary: fuzzIdArb(prefix), weight: 6 },
  );
}

/** Ids the fuzzer may create, overwrite and delete: fresh ones and broken ones, never a seeded id. */
function fuzzIdArb(prefix: string): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: 60 }).map((k) => `${prefix}-${k}`), weight: 4 },
    { arbitrary: fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }).map((s) => `${prefix}-${s}`), weight: 2 },
    { arbitrary: fc.constantFrom('', 'x'.repeat(257), 'a\u0001b', `${prefix}\ud800`, `\udc00${prefix}`, `${prefix}-🎵`), weight: 1 },
  );
}

/**
 * Event and item times: mostly the last weeks, some malformed, some far in the future (up to the
 * schema's 8.64e15 ms: before the ingest time window, one such event emptied trending and home for
 * every user).
 */
function timestampArb(): fc.Arbitrary<unknown> {
  const odd: unknown[] = [
    -1, 0, 8.64e15, 8.64e15 + 1, 1.5, '2024-01-01T00:00:00Z', '2024-13-01T00:00:00Z', '+275760-09-13T00:00:00Z',
    'yesterday', null, Date.now() + 1_000 * 365 * 86_400_000,
  ];
  return fc.oneof(
    { arbitrary: fc.integer({ min: Date.now() - 20 * 86_400_000, max: Date.now() + 60_000 }), weight: 6 },
    { arbitrary: fc.constantFrom(...odd), weight: 1 },
  );
}

function itemRow(itemIds: fc.Arbitrary<string>, timestamp: fc.Arbitrary<unknown>): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(
    {
      id: itemIds,
      creatorId: fc.oneof(fc.constantFrom('c1', 'c2', 'fz-creator'), text(10)),
      title: text(40),
      text: text(80),
      tags: fc.array(text(12), { maxLength: 4 }),
      attributes: fc.dictionary(text(8), fc.oneof(text(10), fc.double(), fc.boolean(), fc.array(text(6), { maxLength: 2 })), { maxKeys: 3 }),
      createdAt: timestamp,
      available: fc.oneof(fc.boolean(), fc.constant('yes')),
      expiresAt: timestamp,
      colour: fc.constant('unknown field'),
    },
    { requiredKeys: ['id'] },
  );
}

function userRow(userIds: fc.Arbitrary<string>, timestamp: fc.Arbitrary<unknown>): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(
    {
      id: userIds,
      attributes: fc.dictionary(text(8), fc.oneof(text(10), fc.integer(), fc.boolean()), { maxKeys: 3 }),
      createdAt: timestamp,
    },
    { requiredKeys: ['id'] },
  );
}

function eventRow(userIds: fc.Arbitrary<string>, itemIds: fc.Arbitrary<string>, timestamp: fc.Arbitrary<unknown>): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(
    {
      id: fc.oneof(fc.integer({ min: 0, max: 500 }).map((k) => `fz-ev-${k}`), text(10)),
      userId: userIds,
      itemId: itemIds,
      type: fc.constantFrom('play', 'play', 'like', 'complete', 'skip', 'dislike', 'save', 'search-click', 'Play', 'x y', ''),
      value: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(1e308, -1e308, 0, 5)),
      timestamp,
      sessionId: fc.oneof(fc.constantFrom('s1', 's2'), text(8)),
      surface: fc.constantFrom('home', 'next', 'trending', 'weird'),
      position: fc.integer({ min: -2, max: 10_001 }),
      context: fc.dictionary(text(6), fc.oneof(text(10), fc.integer(), fc.boolean()), { maxKeys: 2 }),
    },
    { requiredKeys: ['userId', 'itemId', 'type'] },
  );
}

/** Percent-encodes like encodeURIComponent, but encodes a lone surrogate as its (invalid) WTF-8 bytes. */
export function encodeAny(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const isHigh = c >= 0xd800 && c <= 0xdbff;
    const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
    if (isHigh && next >= 0xdc00 && next <= 0xdfff) {
      out += encodeURIComponent(s.slice(i, i + 2));
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else {
      out += encodeURIComponent(s[i]);
    }
  }
  return out;
}

/** A query value and whether it is known bad (then the request must be a 400). */
type Q = readonly [text: string, bad: boolean];

/** `n` (and other integers) as clients write them, canonical or not; 1..500 plain digits are the only good ones. */
const nText: fc.Arbitrary<Q> = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 50 }).map((n): Q => [String(n), false]), weight: 8 },
  { arbitrary: fc.constantFrom<Q>(['500', false], ['0', true], ['501', true], ['-1', true], ['0x10', true], ['1e2', true], ['%2010', true], ['10%20', true], ['+10', true], ['%2B10', true], ['010', true], ['1.0', true], ['1.5', true], ['Infinity', true], ['NaN', true], ['', true], ['%D9%A3', true]), weight: 3 },
);

/** Free text (never bad by itself: unknown ids and tags are fine) or broken percent-encoding (bad). */
const queryValue: fc.Arbitrary<Q> = fc.oneof(
  { arbitrary: text(10).filter(isWellFormedText).map((t): Q => [encodeAny(t), false]), weight: 3 },
  { arbitrary: fc.constantFrom<Q>(['%', true], ['%E0%A4', true], ['%FF', true], ['%ED%A0%80', true], ['%zz', true], ['%2', true], ['a%2Cb', false], ['+', false], ['%20', false]), weight: 1 },
);

const diversity: fc.Arbitrary<Q> = fc.constantFrom<Q>(['0', false], ['0.5', false], ['1', false], ['1.5', true], ['-0.1', true], ['.5', true], ['5e-1', true], ['0x1', true], ['%2B0.5', true]);

function isWellFormedText(t: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(t);
}

/** Builds `?k=v&…` from tagged values; known bad when any value is. */
function query(entries: Record<string, Q | undefined>): Q {
  const parts = Object.entries(entries).filter((e): e is [string, Q] => e[1] !== undefined);
  return [parts.map(([k, [v]]) => `${k}=${v}`).join('&'), parts.some(([, [, bad]]) => bad)];
}

/** A path id: percent-encoded; a lone surrogate becomes invalid UTF-8 there, so the request is bad. */
function pathId(id: string): Q {
  return [encodeAny(id), !isWellFormedText(id) || id === '' || id.length > 256 || hasControlChars(id)];
}

function readRequest(userIds: fc.Arbitrary<string>, itemIds: fc.Arbitrary<string>): fc.Arbitrary<FuzzRequest> {
  const recommendQuery = fc
    .record(
      {
        surface: fc.constantFrom<Q>(['home', false], ['trending', false], ['fresh', false], ['next', false], ['similar', true], ['HOME', true], ['', true]),
        n: nText,
        exclude: fc.array(itemIds, { maxLength: 3 }).map((ids): Q => [ids.map(encodeAny).join(','), ids.some((i) => pathId(i)[1])]),
        excludeCreators: queryValue,
        excludeTags: queryValue,
        sessionId: queryValue,
        explain: fc.constantFrom<Q>(['true', false], ['false', false], ['1', false], ['maybe', true]),
        diversity,
        bogus: fc.constant<Q>(['1', true]),
      },
      { requiredKeys: [] },
    )
    .map(query);
  const similarQuery = fc
    .record({ n: nText, userId: userIds.map(pathId), explain: fc.constantFrom<Q>(['true', false], ['0', false]) }, { requiredKeys: [] })
    .map(query);
  const withQuery = (route: string, id: string, [q, badQ]: Q): FuzzRequest => {
    const [p, badP] = pathId(id);
    return { ...get(`${route}${p}?${q}`), mustFail: badP || badQ };
  };
  const byId = (route: string, id: string): FuzzRequest => {
    const [p, badP] = pathId(id);
    return { ...get(`${route}${p}`), mustFail: badP };
  };
  return fc.oneof(
    { arbitrary: fc.tuple(userIds, recommendQuery).map(([u, q]) => withQuery('/v1/recommend/', u, q)), weight: 5 },
    { arbitrary: fc.tuple(itemIds, similarQuery).map(([i, q]) => withQuery('/v1/similar/', i, q)), weight: 2 },
    { arbitrary: itemIds.map((i) => byId('/v1/items/', i)), weight: 1 },
    { arbitrary: userIds.map((u) => byId('/v1/users/', u)), weight: 1 },
    {
      arbitrary: fc
        .tuple(fc.constantFrom('/v1/recommend/', '/v1/similar/', '/v1/items/'), fc.constantFrom('%', '%E0%A4', '%ED%A0%80', '%C0%AF'))
        .map(([r, id]): FuzzRequest => ({ ...get(`${r}${id}`), mustFail: true })),
      weight: 1,
    },
  );
}

function get(url: string): FuzzRequest {
  return { method: 'GET', url, headers: { ...CLIENT } };
}

function post(url: string, rows: unknown[]): FuzzRequest {
  return { method: 'POST', url, headers: { ...ADMIN, 'content-type': 'application/json' }, payload: JSON.stringify(rows) };
}

export interface FuzzWorld {
  /** Seeded ids the run may read but never deletes (the new-user checks rely on a stable catalog). */
  itemIds: readonly string[];
  userIds: readonly string[];
}

/** One request: batches of items/users/events (mostly), reads with generated queries, deletes of fuzz ids. */
export function requestArb(world: FuzzWorld): fc.Arbitrary<FuzzRequest> {
  const itemIds = idArb(world.itemIds, 'fz-item');
  const userIds = idArb(world.userIds, 'fz-user');
  const fuzzItemIds = fc.integer({ min: 0, max: 60 }).map((k) => `fz-item-${k}`);
  const fuzzUserIds = fc.integer({ min: 0, max: 60 }).map((k) => `fz-user-${k}`);
  const ts = timestampArb();
  return fc.oneof(
    { arbitrary: fc.array(eventRow(userIds, itemIds, ts), { minLength: 1, maxLength: 6 }).map((rows) => post('/v1/events', rows)), weight: 5 },
    // Item rows never overwrite a seeded item (one marked unavailable would shrink the new-user surfaces).
    { arbitrary: fc.array(itemRow(fuzzIdArb('fz-item'), ts), { minLength: 1, maxLength: 4 }).map((rows) => post('/v1/items', rows)), weight: 2 },
    { arbitrary: fc.array(userRow(userIds, ts), { minLength: 1, maxLength: 4 }).map((rows) => post('/v1/users', rows)), weight: 2 },
    { arbitrary: readRequest(userIds, itemIds), weight: 5 },
    {
      arbitrary: fc.oneof(fuzzItemIds.map((i) => `/v1/items/${i}`), fuzzUserIds.map((u) => `/v1/users/${u}`)).map((url): FuzzRequest => ({ method: 'DELETE', url, headers: { ...ADMIN } })),
      weight: 1,
    },
  );
}

/** A run: a few requests, after which the invariants are checked. */
export function runArb(world: FuzzWorld): fc.Arbitrary<FuzzRequest[]> {
  return fc.array(requestArb(world), { minLength: 1, maxLength: 4 });
}

// ---------------------------------------------------------------------------------------------------
// Invariants

const ERROR_KEYS = new Set(['error', 'message', 'issues']);

function note(r: RunReport, problem: string): void {
  if (r.problems.length < 10) r.problems.push(problem);
}

/** Counts non-finite scores in a recommendation response body. */
function countBadScores(body: unknown): number {
  const items = (body as { items?: unknown } | null)?.items;
  if (!Array.isArray(items)) return 0;
  let bad = 0;
  for (const it of items) {
    const score = (it as { score?: unknown } | null)?.score;
    if (typeof score !== 'number' || !Number.isFinite(score)) bad++;
  }
  return bad;
}

/** Sends the run's requests, then checks the invariants; `run` numbers the fresh user of the checks. */
export async function executeRun(s: TestStack, requests: readonly FuzzRequest[], run: number): Promise<RunReport> {
  const r = emptyReport();
  for (const req of requests) {
    const res = await s.app.inject({ method: req.method, url: req.url, headers: req.headers, payload: req.payload });
    r.requests++;
    const where = `${req.method} ${req.url.slice(0, 100)}`;
    if (res.statusCode >= 500) {
      r.serverErrors++;
      note(r, `${where} -> ${res.statusCode} ${res.body.slice(0, 200)}`);
    }
    let body: unknown;
    try {
      body = res.json();
    } catch {
      r.badErrorShape++;
      note(r, `${where} -> ${res.statusCode}, body not JSON: ${res.body.slice(0, 100)}`);
      continue;
    }
    if (req.mustFail && !(res.statusCode >= 400 && res.statusCode < 500)) {
      r.badAccepted++;
      note(r, `${where} is known bad but got ${res.statusCode}`);
    }
    if (req.method === 'POST' && res.statusCode === 200) await checkReadable(s, req, body, r);
    if (res.statusCode >= 400) {
      const b = body as Record<string, unknown>;
      const ok = typeof b?.error === 'string' && typeof b.message === 'string' && Object.keys(b).every((k) => ERROR_KEYS.has(k)) &&
        (b.issues === undefined || Array.isArray(b.issues));
      if (!ok) {
        r.badErrorShape++;
        note(r, `${where} -> ${res.statusCode} error shape: ${res.body.slice(0, 200)}`);
      }
    } else {
      const bad = countBadScores(body);
      if (bad > 0) {
        r.nanScores += bad;
        note(r, `${where}: ${bad} non-finite scores`);
      }
    }
  }
  await checkInvariants(s, r, run);
  return r;
}

/** Every item or user a batch accepted can be read back by its id (and so deleted). */
async function checkReadable(s: TestStack, req: FuzzRequest, body: unknown, r: RunReport): Promise<void> {
  const kind = req.url === '/v1/items' ? 'items' : req.url === '/v1/users' ? 'users' : undefined;
  if (!kind) return;
  const rows = JSON.parse(req.payload ?? '[]') as { id?: unknown }[];
  const rejected = new Set((body as { rejected: { index: number }[] }).rejected.map((x) => x.index));
  for (let i = 0; i < rows.length; i++) {
    if (rejected.has(i) || typeof rows[i].id !== 'string') continue;
    const id = rows[i].id as string;
    const res = await s.app.inject({ url: `/v1/${kind}/${encodeAny(id)}`, headers: CLIENT });
    if (res.statusCode !== 200) {
      r.unreadableIds++;
      note(r, `${kind} id ${JSON.stringify(id)} was accepted but GET answers ${res.statusCode}`);
    }
  }
}

async function checkInvariants(s: TestStack, r: RunReport, run: number): Promise<void> {
  const newUser = `fz-fresh-user-${run}`;
  for (const surface of ['trending', 'home'] as const) {
    const res = await s.app.inject({ url: `/v1/recommend/${newUser}?surface=${surface}&n=10`, headers: CLIENT });
    const body = res.statusCode === 200 ? (res.json() as { items: unknown[] }) : { items: [] };
    if (body.items.length === 0) {
      if (surface === 'trending') r.emptyTrending++;
      else r.emptyHome++;
      note(r, `${surface} for a new user: ${res.statusCode} ${res.body.slice(0, 100)}`);
    }
    r.nanScores += countBadScores(body);
  }
  const health = (await s.app.inject({ url: '/healthz' })).json() as { items: number; users: number; events: number };
  const stored = { items: await s.store.countItems(), users: await s.store.countUsers(), events: await s.store.countEvents() };
  for (const k of ['items', 'users', 'events'] as const) {
    if (health[k] !== stored[k]) {
      r.countMismatches++;
      r.mismatchByField[k]++;
      note(r, `/healthz ${k} ${health[k]} != store ${stored[k]}`);
    }
  }
}
