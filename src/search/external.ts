/**
 * A pluggable external text encoder: any server speaking the OpenAI embeddings protocol
 * (`POST {url}/embeddings` with `{model, input: string[]}` → `{data: [{index, embedding}]}`), e.g. a
 * self-hosted text-embeddings server or a hosted API. It replaces the in-project content tower as the
 * semantic side of search (items and queries embedded by the same model); the lexical side is unchanged.
 *
 * Limits: batches of at most `batchSize` texts, each cut to `maxTextChars`; every call has a timeout;
 * the response is validated (one finite vector per input, all of the same length) before use.
 * Vectors are L2-normalised here so cosine = inner product downstream.
 */
import { z } from 'zod';
import { UnavailableError, ValidationError, issuesFromSchema } from '../core/errors.js';

export const ExternalEncoderConfigSchema = z.strictObject({
  /** Base URL of the API, e.g. http://localhost:8080/v1 (the client appends /embeddings). */
  url: z.url(),
  model: z.string().min(1).max(200),
  /** Sent as `Authorization: Bearer <apiKey>` when present. */
  apiKey: z.string().min(1).optional(),
  batchSize: z.number().int().min(1).max(2_048).default(64),
  timeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  maxTextChars: z.number().int().min(16).max(100_000).default(4_000),
});
export type ExternalEncoderConfigInput = z.input<typeof ExternalEncoderConfigSchema>;
export type ExternalEncoderConfig = z.output<typeof ExternalEncoderConfigSchema>;

const EmbeddingsResponse = z.object({
  data: z
    .array(z.object({ index: z.number().int().min(0), embedding: z.array(z.number().refine(Number.isFinite, 'must be finite')).min(1) }))
    .min(1),
});

/** Something that turns texts into unit vectors: [n, dims] row-major. */
export interface TextEmbedder {
  readonly name: string;
  /** Known after the first call (0 before). */
  readonly dims: number;
  embedBatch(texts: readonly string[]): Promise<Float32Array>;
}

export class ExternalEncoder implements TextEmbedder {
  readonly config: ExternalEncoderConfig;
  private dimsSeen = 0;

  constructor(config: ExternalEncoderConfigInput) {
    const r = ExternalEncoderConfigSchema.safeParse(config);
    if (!r.success) {
      throw new ValidationError(
        'invalid external encoder config',
        issuesFromSchema(r.error.issues, 'search.externalEncoder'),
      );
    }
    this.config = r.data;
  }

  get name(): string {
    return `external:${this.config.model}`;
  }

  get dims(): number {
    return this.dimsSeen;
  }

  private async call(texts: readonly string[]): Promise<number[][]> {
    const { url, model, apiKey, timeoutMs, maxTextChars } = this.config;
    const endpoint = `${url.replace(/\/+$/, '')}/embeddings`;
    let res: Response;
    try {
      res = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
        body: JSON.stringify({ model, input: texts.map((t) => (t.length > maxTextChars ? t.slice(0, maxTextChars) : t)) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw new UnavailableError(`embeddings endpoint ${endpoint} unreachable: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!res.ok) {
      const body = (await res.text()).slice(0, 200);
      throw new UnavailableError(`embeddings endpoint ${endpoint} answered ${res.status}: ${body}`);
    }
    const parsed = EmbeddingsResponse.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) {
      throw new UnavailableError(`embeddings endpoint ${endpoint} sent an invalid response`, issuesFromSchema(parsed.error.issues));
    }
    const out: number[][] = new Array(texts.length);
    for (const row of parsed.data.data) if (row.index < texts.length) out[row.index] = row.embedding;
    for (let i = 0; i < texts.length; i++) {
      if (!out[i]) throw new UnavailableError(`embeddings endpoint ${endpoint} returned no vector for input ${i}`);
    }
    return out;
  }

  /** Embeds texts in bounded batches; returns unit rows [n, dims]. */
  async embedBatch(texts: readonly string[]): Promise<Float32Array> {
    const rows: number[][] = [];
    for (let i = 0; i < texts.length; i += this.config.batchSize) rows.push(...(await this.call(texts.slice(i, i + this.config.batchSize))));
    if (rows.length === 0) return new Float32Array(0);
    const d = this.dimsSeen || rows[0].length;
    const out = new Float32Array(rows.length * d);
    rows.forEach((v, r) => {
      if (v.length !== d) throw new UnavailableError(`embeddings endpoint returned ${v.length} dimensions, expected ${d}`);
      let s = 0;
      for (const x of v) s += x * x;
      const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
      for (let j = 0; j < d; j++) out[r * d + j] = v[j] * inv;
    });
    this.dimsSeen = d;
    return out;
  }
}

/** The text an item is embedded from by an external model. */
export function itemText(f: { title?: string; text?: string; tags?: readonly string[]; creator?: string }): string {
  return [f.title, f.creator, (f.tags ?? []).join(', '), f.text].filter((s) => s && s.length > 0).join('\n');
}
