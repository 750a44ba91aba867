/**
 * The seeded synthetic world behind `tastemaker demo` and most tests: a music-like catalog and an
 * event log with the structure real logs have, so that every recommender has a signal to find.
 *
 * - Popularity is Zipf-distributed (item weight 1/rank^s over a random permutation), as play counts are.
 * - Creators own several items; an item's genre follows its creator's genre most of the time.
 * - Tags come from a genre + mood vocabulary and the title/text from words tied to those tags, so content
 *   models can learn tag ↔ text associations.
 * - Part of the catalog exists at `startMs`; the rest arrives during the period (fresh items), and a few
 *   items are unavailable or expire.
 * - Users have latent tastes (a sparse mixture over genres) that drift slowly towards a second genre.
 * - Users act in sessions; the next item in a session follows the previous one's creator or genre, so
 *   co-occurrence and sequential models have something to learn.
 * - Outcomes depend on the taste match: mismatched items are skipped (sometimes disliked), matched ones
 *   completed, liked, saved, shared.
 *
 * Deterministic for a seed: every random draw goes through one `Rng`. Hot loops work on typed arrays;
 * event objects are built once, after the chronological sort.
 */
import { z } from 'zod';
import { ValidationError, issuesFromSchema } from './errors.js';
import { Rng } from './rng.js';
import type { InteractionDataset } from './dataset.js';
import { sequencesFromLists } from './dataset.js';
import type { Event, Item, User } from './schemas.js';
import { DEFAULT_EVENT_WEIGHTS } from './schemas.js';
import { isPositive } from './events.js';

const DAY_MS = 86_400_000;

export const SynthOptions = z.strictObject({
  seed: z.number().int().min(0).max(0xffffffff),
  users: z.number().int().min(1).max(1_000_000),
  items: z.number().int().min(1).max(1_000_000),
  creators: z.number().int().min(1).max(1_000_000),
  /** Length of the simulated period. */
  days: z.number().min(0.01).max(3_650),
  /** Mean events per user; individual activity is heavy-tailed (log-normal) around it. */
  eventsPerUser: z.number().min(1).max(100_000),
  /** Start of the simulated period (ms). */
  startMs: z.number().int().min(0),
  /** Zipf exponent of item popularity. */
  zipfExponent: z.number().min(0).max(3).default(1.0),
  /** Mean number of items consumed per session (geometric). */
  meanSessionLength: z.number().min(1).max(1_000).default(8),
  /** Fraction of the catalog that exists at startMs; the rest arrives uniformly during the period. */
  initialCatalogFraction: z.number().min(0.05).max(1).default(0.7),
  /** How fast tastes move towards each user's drift genre (fraction per day, capped at 1). */
  driftPerDay: z.number().min(0).max(1).default(0.01),
});
export type SynthOptions = z.input<typeof SynthOptions>;

/** Ground truth of the simulation, for realism tests and for evaluating models against the true tastes. */
export interface SynthTruth {
  genres: readonly string[];
  moods: readonly string[];
  /** itemGenre: [items], index into genres (primary genre). */
  itemGenre: Int32Array;
  /** itemPopularity: [items], the Zipf weight each item was sampled with. */
  itemPopularity: Float64Array;
  /** userTaste: [users, genres] row-major, each row sums to 1 (taste at startMs). */
  userTaste: Float32Array;
  /** userDriftGenre: [users], the genre each user's taste drifts towards. */
  userDriftGenre: Int32Array;
  /** eventMatch: [events], the taste match in [0, 1] at the time of each event (aligned with `events`). */
  eventMatch: Float32Array;
}

export interface SyntheticData {
  items: Item[];
  users: User[];
  /** Chronological (timestamp, then generation order); ids e0, e1, … in that order. */
  events: Event[];
  truth: SynthTruth;
}

export const GENRES = [
  'rock', 'pop', 'jazz', 'hiphop', 'electronic', 'classical', 'folk', 'metal',
  'ambient', 'rnb', 'country', 'reggae', 'latin', 'blues', 'soul', 'punk',
] as const;

export const MOODS = ['chill', 'energetic', 'melancholic', 'happy', 'dark', 'romantic', 'epic', 'focus'] as const;

/** Words tied to each genre: titles and descriptions are built from them. */
const GENRE_WORDS: Record<(typeof GENRES)[number], readonly string[]> = {
  rock: ['guitar', 'highway', 'thunder', 'riff', 'garage', 'amplifier', 'stone', 'rebel'],
  pop: ['neon', 'sugar', 'radio', 'crush', 'glitter', 'summer', 'chorus', 'candy'],
  jazz: ['saxophone', 'smoky', 'swing', 'bebop', 'trumpet', 'lounge', 'blue', 'improvised'],
  hiphop: ['beat', 'cipher', 'block', 'flow', 'rhyme', 'street', 'sample', 'crown'],
  electronic: ['synth', 'pulse', 'circuit', 'laser', 'techno', 'bassline', 'digital', 'rave'],
  classical: ['symphony', 'violin', 'sonata', 'orchestra', 'nocturne', 'cello', 'prelude', 'opus'],
  folk: ['fiddle', 'cabin', 'river', 'acoustic', 'harvest', 'ballad', 'meadow', 'lantern'],
  metal: ['iron', 'inferno', 'shred', 'doom', 'steel', 'blast', 'throne', 'abyss'],
  ambient: ['drone', 'haze', 'ocean', 'drift', 'texture', 'cloud', 'stillness', 'horizon'],
  rnb: ['velvet', 'groove', 'silk', 'falsetto', 'slowjam', 'honey', 'midnight', 'smooth'],
  country: ['truck', 'dusty', 'boots', 'prairie', 'whiskey', 'porch', 'rodeo', 'banjo'],
  reggae: ['island', 'riddim', 'dub', 'sunshine', 'offbeat', 'roots', 'skank', 'yard'],
  latin: ['salsa', 'conga', 'fiesta', 'corazon', 'tropical', 'rumba', 'noche', 'baila'],
  blues: ['delta', 'harmonica', 'crossroads', 'slide', 'lowdown', 'train', 'juke', 'moan'],
  soul: ['gospel', 'testify', 'brass', 'heartfelt', 'motown', 'spirit', 'organ', 'sweet'],
  punk: ['riot', 'anarchy', 'loud', 'diy', 'spit', 'fast', 'safety', 'noise'],
};

const MOOD_WORDS: Record<(typeof MOODS)[number], readonly string[]> = {
  chill: ['lazy', 'sunday', 'mellow', 'breeze'],
  energetic: ['rush', 'power', 'jump', 'fire'],
  melancholic: ['rain', 'tears', 'grey', 'goodbye'],
  happy: ['smile', 'bright', 'dance', 'golden'],
  dark: ['shadow', 'night', 'cold', 'ghost'],
  romantic: ['love', 'kiss', 'rose', 'forever'],
  epic: ['legend', 'rise', 'titan', 'glory'],
  focus: ['study', 'flow', 'clear', 'steady'],
};

const FILLER = ['a', 'the', 'with', 'and', 'of', 'for', 'into', 'from'];
const SYLLABLES = ['ka', 'lo', 'mi', 'ra', 'ven', 'to', 'sa', 'zu', 'el', 'no', 'ri', 'da', 'mo', 'ki', 'an', 'be'];

/** Outcome codes of the simulation (index into EVENT_TYPES). */
const EVENT_TYPES = ['play', 'complete', 'skip', 'like', 'save', 'share', 'dislike'] as const;
const T_PLAY = 0, T_COMPLETE = 1, T_SKIP = 2, T_LIKE = 3, T_SAVE = 4, T_SHARE = 5, T_DISLIKE = 6;

/** Growable parallel arrays for events before they become objects. */
class EventBuffer {
  len = 0;
  userIx = new Int32Array(1024);
  itemIx = new Int32Array(1024);
  type = new Uint8Array(1024);
  ts = new Float64Array(1024);
  session = new Int32Array(1024);
  match = new Float32Array(1024);

  push(u: number, i: number, type: number, ts: number, session: number, match: number): void {
    if (this.len === this.userIx.length) this.grow();
    const k = this.len++;
    this.userIx[k] = u;
    this.itemIx[k] = i;
    this.type[k] = type;
    this.ts[k] = ts;
    this.session[k] = session;
    this.match[k] = match;
  }

  private grow(): void {
    const n = this.userIx.length * 2;
    const g = <T extends Int32Array | Uint8Array | Float64Array | Float32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a as never);
      return b;
    };
    this.userIx = g(this.userIx, (m) => new Int32Array(m));
    this.itemIx = g(this.itemIx, (m) => new Int32Array(m));
    this.type = g(this.type, (m) => new Uint8Array(m));
    this.ts = g(this.ts, (m) => new Float64Array(m));
    this.session = g(this.session, (m) => new Int32Array(m));
    this.match = g(this.match, (m) => new Float32Array(m));
  }
}

/** Index of the first element of the ascending `cum` that is > x (inverse-CDF sampling). */
function upperBound(cum: Float64Array, lo: number, hi: number, x: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Items grouped by a key (genre or creator) in CSR form with per-group cumulative popularity. */
interface Groups {
  offsets: Int32Array; // [groups + 1]
  members: Int32Array; // [items] item ixs grouped
  cum: Float64Array; // [items] cumulative popularity within each group
}

function buildGroups(key: Int32Array, numGroups: number, weight: Float64Array): Groups {
  const offsets = new Int32Array(numGroups + 1);
  for (let i = 0; i < key.length; i++) offsets[key[i] + 1]++;
  for (let g = 0; g < numGroups; g++) offsets[g + 1] += offsets[g];
  const fill = offsets.slice(0, numGroups);
  const members = new Int32Array(key.length);
  for (let i = 0; i < key.length; i++) members[fill[key[i]]++] = i;
  const cum = new Float64Array(key.length);
  for (let g = 0; g < numGroups; g++) {
    let acc = 0;
    for (let k = offsets[g]; k < offsets[g + 1]; k++) {
      acc += weight[members[k]];
      cum[k] = acc;
    }
  }
  return { offsets, members, cum };
}

function capitalize(w: string): string {
  return w.charAt(0).toUpperCase() + w.slice(1);
}

function parseOptions(opts: SynthOptions): z.output<typeof SynthOptions> {
  const r = SynthOptions.safeParse(opts);
  if (!r.success) {
    const issues = issuesFromSchema(r.error.issues);
    throw new ValidationError(`invalid synthetic-data options: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
  return r.data;
}

export function generateSynthetic(options: SynthOptions): SyntheticData {
  const o = parseOptions(options);
  const rng = new Rng(o.seed);
  const G = GENRES.length;
  const M = MOODS.length;
  const endMs = o.startMs + Math.round(o.days * DAY_MS);

  // --- genres: some are bigger than others (Zipf over genres, exponent 0.7) ---
  const genreWeight = new Float64Array(G);
  const genrePerm = rng.shuffle(Int32Array.from({ length: G }, (_, g) => g));
  for (let r = 0; r < G; r++) genreWeight[genrePerm[r]] = 1 / Math.pow(r + 1, 0.7);
  const genreCum = new Float64Array(G);
  for (let g = 0, acc = 0; g < G; g++) genreCum[g] = acc += genreWeight[g];
  const sampleGenre = (): number => upperBound(genreCum, 0, G - 1, rng.next() * genreCum[G - 1]);

  // --- creators: a genre, a name, and a Zipf-ish share of the catalog ---
  const C = o.creators;
  const creatorGenre = new Int32Array(C);
  const creatorNames: string[] = new Array(C);
  const creatorCum = new Float64Array(C);
  for (let c = 0, acc = 0; c < C; c++) {
    creatorGenre[c] = sampleGenre();
    const syl = 2 + rng.int(2);
    let name = '';
    for (let s = 0; s < syl; s++) name += SYLLABLES[rng.int(SYLLABLES.length)];
    creatorNames[c] = `${capitalize(name)} ${rng.next() < 0.5 ? 'Band' : capitalize(SYLLABLES[rng.int(SYLLABLES.length)] + SYLLABLES[rng.int(SYLLABLES.length)])}`;
    creatorCum[c] = acc += 1 / Math.pow(c + 1, 0.8);
  }

  // --- items ---
  const I = o.items;
  const itemCreator = new Int32Array(I);
  const itemGenre = new Int32Array(I);
  const itemGenre2 = new Int32Array(I).fill(-1);
  const itemMood = new Int32Array(I);
  const itemCreatedAt = new Float64Array(I);
  const itemPopularity = new Float64Array(I);
  const itemUsable = new Uint8Array(I); // available and never expiring before endMs
  const rankPerm = rng.shuffle(Int32Array.from({ length: I }, (_, i) => i));
  const items: Item[] = new Array(I);
  const initialCount = Math.max(1, Math.round(I * o.initialCatalogFraction));
  for (let i = 0; i < I; i++) {
    const c = i < C ? i : upperBound(creatorCum, 0, C - 1, rng.next() * creatorCum[C - 1]);
    itemCreator[i] = c;
    itemGenre[i] = rng.next() < 0.8 ? creatorGenre[c] : sampleGenre();
    if (rng.next() < 0.3) {
      const g2 = sampleGenre();
      if (g2 !== itemGenre[i]) itemGenre2[i] = g2;
    }
    itemMood[i] = rng.int(M);
    itemPopularity[i] = 1 / Math.pow(rankPerm[i] + 1, o.zipfExponent);
    // The first `initialCount` ixs exist before the period (spread over the previous year); the rest arrive during it.
    itemCreatedAt[i] =
      i < initialCount
        ? Math.max(0, o.startMs - Math.floor(rng.next() * 365 * DAY_MS))
        : o.startMs + Math.floor(rng.next() * (endMs - o.startMs));
    const roll = rng.next();
    const available = roll >= 0.01;
    const expiresAt = roll >= 0.01 && roll < 0.03 ? Math.floor(o.startMs + rng.next() * (endMs - o.startMs) * 1.5) : undefined;
    itemUsable[i] = available && (expiresAt === undefined || expiresAt > endMs) ? 1 : 0;

    const g = GENRES[itemGenre[i]];
    const mood = MOODS[itemMood[i]];
    const gw = GENRE_WORDS[g];
    const mw = MOOD_WORDS[mood];
    const title = `${capitalize(mw[rng.int(mw.length)])} ${capitalize(gw[rng.int(gw.length)])}`;
    const tags = [g, mood];
    let text = `${/^[aeiou]/.test(mood) ? 'An' : 'A'} ${mood} ${g} track by ${creatorNames[c]}:`;
    const g2ix = itemGenre2[i];
    if (g2ix >= 0) tags.splice(1, 0, GENRES[g2ix]);
    const words = 8 + rng.int(8);
    for (let w = 0; w < words; w++) {
      const r = rng.next();
      const pool = r < 0.55 ? gw : r < 0.75 ? mw : r < 0.85 && g2ix >= 0 ? GENRE_WORDS[GENRES[g2ix]] : FILLER;
      text += ` ${pool[rng.int(pool.length)]}`;
    }
    items[i] = {
      id: `i${i}`,
      creatorId: `c${c}`,
      title,
      text: text + '.',
      tags,
      attributes: { durationSec: 120 + rng.int(300), year: 1960 + rng.int(66) },
      createdAt: itemCreatedAt[i],
      available,
      ...(expiresAt !== undefined ? { expiresAt } : {}),
    };
  }
  const byGenre = buildGroups(itemGenre, G, itemPopularity);
  const byCreator = buildGroups(itemCreator, C, itemPopularity);
  const globalCum = new Float64Array(I);
  for (let i = 0, acc = 0; i < I; i++) globalCum[i] = acc += itemPopularity[i];
  // Items of each genre sorted by creation time, for "what arrived this week" picks.
  const genreByTime = Int32Array.from(byGenre.members);
  for (let g = 0; g < G; g++) {
    genreByTime.subarray(byGenre.offsets[g], byGenre.offsets[g + 1]).sort((a, b) => itemCreatedAt[a] - itemCreatedAt[b] || a - b);
  }

  /** Samples a popularity-weighted item of a group that exists at time t (rejection, then any old item). */
  const sampleFrom = (grp: Groups | null, g: number, t: number): number => {
    const lo = grp ? grp.offsets[g] : 0;
    const hi = grp ? grp.offsets[g + 1] : I;
    if (hi > lo) {
      const cum = grp ? grp.cum : globalCum;
      const total = cum[hi - 1]; // cumulative sums restart at 0 in every group
      for (let attempt = 0; attempt < 8; attempt++) {
        const k = upperBound(cum, lo, hi - 1, rng.next() * total);
        const i = grp ? grp.members[k] : k;
        if (itemCreatedAt[i] <= t && itemUsable[i]) return i;
      }
    }
    return rng.int(initialCount); // every initial item exists before startMs
  };

  /** A uniformly chosen item of genre g created in the week before t, or -1. */
  const sampleRecent = (g: number, t: number): number => {
    const lo = byGenre.offsets[g];
    const hi = byGenre.offsets[g + 1];
    let a = lo, b = hi; // first with createdAt > t
    while (a < b) {
      const m = (a + b) >>> 1;
      if (itemCreatedAt[genreByTime[m]] > t) b = m;
      else a = m + 1;
    }
    const end = a;
    a = lo;
    b = end; // first with createdAt > t - 7d
    while (a < b) {
      const m = (a + b) >>> 1;
      if (itemCreatedAt[genreByTime[m]] > t - 7 * DAY_MS) b = m;
      else a = m + 1;
    }
    if (end <= a) return -1;
    const i = genreByTime[a + rng.int(end - a)];
    return itemUsable[i] ? i : -1;
  };

  // --- users: sparse genre mixtures plus a drift genre ---
  const U = o.users;
  const userTaste = new Float32Array(U * G);
  const userDrift = new Int32Array(U);
  const users: User[] = new Array(U);
  const userStart = new Float64Array(U);
  for (let u = 0; u < U; u++) {
    const row = userTaste.subarray(u * G, (u + 1) * G);
    row.fill(0.02);
    const k = 1 + rng.int(3);
    for (let j = 0; j < k; j++) row[sampleGenre()] += 0.3 + rng.next();
    let sum = 0;
    for (let g = 0; g < G; g++) sum += row[g];
    for (let g = 0; g < G; g++) row[g] /= sum;
    userDrift[u] = sampleGenre();
    const createdAt = rng.next() < 0.8
      ? Math.max(0, o.startMs - Math.floor(rng.next() * 180 * DAY_MS))
      : o.startMs + Math.floor(rng.next() * (endMs - o.startMs) * 0.8);
    userStart[u] = Math.max(createdAt, o.startMs);
    users[u] = { id: `u${u}`, attributes: { country: ['US', 'GB', 'DE', 'FR', 'BR', 'JP', 'IN', 'SE'][rng.int(8)] }, createdAt };
  }

  // --- events: sessions per user ---
  const buf = new EventBuffer();
  const taste = new Float64Array(G); // current (drifted) taste of the user being simulated
  let sessionCounter = 0;
  const sigma = 0.8;
  const meanLen = o.meanSessionLength;
  for (let u = 0; u < U; u++) {
    const target = Math.max(3, Math.min(20 * o.eventsPerUser, Math.round(o.eventsPerUser * Math.exp(sigma * rng.normal() - (sigma * sigma) / 2))));
    const row = userTaste.subarray(u * G, (u + 1) * G);
    const span = endMs - userStart[u];
    let emitted = 0;
    while (emitted < target) {
      const session = sessionCounter++;
      let t = userStart[u] + Math.floor(rng.next() * span);
      // Taste at the session's time: (1-d)·taste0 + d·onehot(drift).
      const d = Math.min(1, (o.driftPerDay * (t - o.startMs)) / DAY_MS);
      let tasteMax = 0;
      for (let g = 0; g < G; g++) {
        taste[g] = (1 - d) * row[g] + (g === userDrift[u] ? d : 0);
        if (taste[g] > tasteMax) tasteMax = taste[g];
      }
      const sampleTasteGenre = (): number => {
        let x = rng.next();
        for (let g = 0; g < G; g++) {
          x -= taste[g];
          if (x < 0) return g;
        }
        return G - 1;
      };
      let prev = -1;
      const len = 1 + Math.floor(Math.log(1 - rng.next()) / Math.log(1 - 1 / meanLen));
      for (let s = 0; s < len && emitted < target; s++) {
        let item: number;
        const r = rng.next();
        if (prev < 0) {
          item = r < 0.85 ? pickInGenre(sampleTasteGenre(), t) : sampleFrom(null, 0, t);
        } else if (r < 0.25) {
          item = sampleFrom(byCreator, itemCreator[prev], t);
        } else if (r < 0.7) {
          item = pickInGenre(itemGenre[prev], t);
        } else if (r < 0.9) {
          item = pickInGenre(sampleTasteGenre(), t);
        } else {
          item = sampleFrom(null, 0, t);
        }
        if (item === prev) item = pickInGenre(sampleTasteGenre(), t);
        const g2 = itemGenre2[item];
        const m = Math.max(taste[itemGenre[item]], g2 >= 0 ? 0.6 * taste[g2] : 0) / tasteMax;
        const skipP = 0.05 + 0.6 * (1 - m);
        if (rng.next() < skipP) {
          buf.push(u, item, T_SKIP, t + 5_000 + rng.int(25_000), session, m);
          emitted++;
          if (rng.next() < 0.2 * (1 - m)) {
            buf.push(u, item, T_DISLIKE, t + 31_000, session, m);
            emitted++;
          }
          t += 35_000 + rng.int(10_000);
        } else {
          buf.push(u, item, T_PLAY, t, session, m);
          emitted++;
          const dur = 120_000 + rng.int(180_000);
          if (rng.next() < 0.35 + 0.55 * m) {
            buf.push(u, item, T_COMPLETE, t + dur, session, m);
            emitted++;
          }
          if (rng.next() < 0.25 * m) {
            buf.push(u, item, T_LIKE, t + dur - 1_000, session, m);
            emitted++;
          }
          if (rng.next() < 0.08 * m) {
            buf.push(u, item, T_SAVE, t + dur - 500, session, m);
            emitted++;
          }
          if (rng.next() < 0.03 * m) {
            buf.push(u, item, T_SHARE, t + dur - 200, session, m);
            emitted++;
          }
          t += dur + 1_000 + rng.int(5_000);
        }
        prev = item;
      }
    }
  }

  function pickInGenre(g: number, t: number): number {
    if (rng.next() < 0.15) {
      const recent = sampleRecent(g, t);
      if (recent >= 0) return recent;
    }
    return sampleFrom(byGenre, g, t);
  }

  // --- chronological order; ids follow it ---
  const n = buf.len;
  const order = new Int32Array(n);
  for (let k = 0; k < n; k++) order[k] = k;
  const ts = buf.ts;
  order.sort((a, b) => ts[a] - ts[b] || a - b);
  const events: Event[] = new Array(n);
  const eventMatch = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const j = order[k];
    const u = buf.userIx[j];
    events[k] = {
      id: `e${k}`,
      userId: users[u].id,
      itemId: items[buf.itemIx[j]].id,
      type: EVENT_TYPES[buf.type[j]],
      timestamp: ts[j],
      sessionId: `s${buf.session[j]}`,
    };
    eventMatch[k] = buf.match[j];
  }
  return {
    items,
    users,
    events,
    truth: { genres: GENRES, moods: MOODS, itemGenre, itemPopularity, userTaste, userDriftGenre: userDrift, eventMatch },
  };
}

/**
 * The same world as interaction sequences for offline models: per user, the chronological items with
 * positive feedback (by `weights`), consecutive repeats collapsed (play → complete → like of one item is
 * one interaction). Item ixs are positions in `data.items`, user ixs positions in `data.users`.
 */
export function syntheticToDataset(
  data: SyntheticData,
  weights: Readonly<Record<string, number>> = DEFAULT_EVENT_WEIGHTS,
): InteractionDataset {
  const itemIx = new Map<string, number>();
  data.items.forEach((it, i) => itemIx.set(it.id, i));
  const userIx = new Map<string, number>();
  data.users.forEach((us, u) => userIx.set(us.id, u));
  const lists: number[][] = data.users.map(() => []);
  const times: number[][] = data.users.map(() => []);
  for (const e of data.events) {
    if (!isPositive(e.type, weights)) continue;
    const u = userIx.get(e.userId);
    const i = itemIx.get(e.itemId);
    if (u === undefined || i === undefined) continue;
    const l = lists[u];
    if (l.length > 0 && l[l.length - 1] === i) continue;
    l.push(i);
    times[u].push(e.timestamp);
  }
  const seqs = sequencesFromLists(lists, data.items.length);
  const timestampsMs = new Float64Array(seqs.items.length);
  for (let u = 0, k = 0; u < lists.length; u++) for (const t of times[u]) timestampsMs[k++] = t;
  return {
    name: 'synthetic',
    seqs,
    userIds: data.users.map((u) => u.id),
    itemIds: data.items.map((i) => i.id),
    itemTags: data.items.map((i) => i.tags),
    itemTitles: data.items.map((i) => i.title),
    itemCreators: data.items.map((i) => i.creatorId),
    timestampsMs,
  };
}
