/**
 * Text normalisation shared by every search path (lexical index, content encoder, autocomplete), so a
 * query and a document are always cut the same way.
 *
 * - NFKD decomposition, then combining marks (\p{M}) dropped: "Beyoncé" → "beyonce", "ﬁ" → "fi".
 * - Full Unicode case folding by `toLowerCase` plus the one common multi-letter fold NFKD misses:
 *   "ß" → "ss" (so "Straße" and "strasse" meet).
 * - Tokens are maximal runs of letters and digits (\p{L}\p{N}); apostrophes inside words are removed
 *   first ("don't" → "dont"), everything else separates tokens.
 * - Scripts written without spaces (Han, Hiragana, Katakana, Thai, …) have no word boundaries a regex
 *   can see; those runs are split into overlapping character bigrams (plus the single character for a
 *   run of one), the standard CJK indexing scheme of Lucene's CJKAnalyzer. Intl.Segmenter would need
 *   dictionary data that varies by Node build; bigrams are deterministic and recall-oriented.
 */

const MARKS = /\p{M}+/gu;
const APOSTROPHES = /(?<=[\p{L}\p{N}])['’](?=[\p{L}\p{N}])/gu;
const TOKEN = /[\p{L}\p{N}]+/gu;
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
const UNSPACED_RUN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]+|[^\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]+/gu;

/** Longest token kept; longer runs (hashes, URLs glued together) are cut, so every term is bounded. */
export const MAX_TOKEN_LENGTH = 40;

/** Folds case and diacritics: "Ångström Straße" → "angstrom strasse". */
export function fold(s: string): string {
  return s.normalize('NFKD').replace(MARKS, '').toLowerCase().replace(/ß/g, 'ss');
}

function pushRun(run: string, out: string[]): void {
  if (!UNSPACED.test(run)) {
    out.push(run.length > MAX_TOKEN_LENGTH ? run.slice(0, MAX_TOKEN_LENGTH) : run);
    return;
  }
  // Mixed runs like "東京2020": split into script-homogeneous pieces first.
  for (const piece of run.match(UNSPACED_RUN) ?? []) {
    if (!UNSPACED.test(piece)) {
      out.push(piece.length > MAX_TOKEN_LENGTH ? piece.slice(0, MAX_TOKEN_LENGTH) : piece);
      continue;
    }
    const chars = Array.from(piece);
    if (chars.length === 1) out.push(chars[0]);
    for (let i = 0; i + 1 < chars.length; i++) out.push(chars[i] + chars[i + 1]);
  }
}

/** Folded tokens of `s` in order (duplicates kept: term frequencies need them). */
export function tokenize(s: string): string[] {
  const out: string[] = [];
  if (!s) return out;
  const folded = fold(s).replace(APOSTROPHES, '');
  for (const m of folded.matchAll(TOKEN)) pushRun(m[0], out);
  return out;
}

/** True when the query ends inside a word (no trailing space or punctuation): its last token is a prefix. */
export function endsInWord(q: string): boolean {
  return /[\p{L}\p{N}]$/u.test(q.normalize('NFKD').replace(MARKS, ''));
}

/** Whether a token comes from an unspaced script (bigrams are never typo-corrected or prefix-expanded). */
export function isUnspacedToken(t: string): boolean {
  return UNSPACED.test(t);
}
