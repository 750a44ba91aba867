/**
 * The HTTP API (fastify 5). This file only wires routes to the engine and the ingestor: it validates
 * input with zod (errors name the field), checks the API key's role, and maps every failure to one JSON
 * error shape. It holds no model logic. Route table → registration and /openapi.json (see openapi.ts).
 *
 * Batch bodies are plain JSON arrays (`[{...}, {...}]`), validated row by row: a bad row is reported by
 * its index and reasons while the good rows are stored.
 */
import { STATUS_CODES } from 'node:http';
import Fastify, { LogController, type FastifyInstance, type FastifyReply } from 'fastify';
import type { z } from 'zod';
import type { Config } from '../core/config.js';
import { NotFoundError, PayloadTooLargeError, UnavailableError, ValidationError, issuesFromSchema } from '../core/errors.js';
import type { Engine } from '../engine/types.js';
import type { BatchResult } from '../ingest/types.js';
import { SearchIndex } from '../search/search-index.js';
import { searchRouteSpecs, type SearchService } from '../search/routes.js';
import { KeyRing, authorize } from './auth.js';
import { withBodyDeadline } from './body-deadline.js';
import { clientErrorResponse, parseJsonBody, toErrorResponse } from './errors.js';
import { parseQueryStrict } from './query.js';
import type { SearchHolder } from './live-search.js';
import type { ModelsStatus } from '../train/status.js';
import { createMetrics, type ServeMetrics } from './metrics.js';
import { buildOpenApi, defineRoute, type RouteSpec } from './openapi.js';
import {
  BatchResultSchema,
  DeletedBody,
  EventBatch,
  EventDeletionBody,
  EventsDeletedBody,
  EventsPage,
  EventsQuery,
  HealthBody,
  IdParams,
  ItemBatch,
  ItemIdParams,
  ModelsStatusSchema,
  RecommendResponseSchema,
  StoredItem,
  StoredUser,
  UserBatch,
  UserIdParams,
  recommendQuery,
  similarQuery,
} from './schemas.js';

/** What the batch routes need from src/ingest (the Ingestor validates rows and notifies the engine). */
export interface BatchIngestor {
  ingestItems(rows: unknown): Promise<BatchResult>;
  ingestUsers(rows: unknown): Promise<BatchResult>;
  ingestEvents(rows: unknown): Promise<BatchResult>;
}

export interface BuildAppOptions {
  engine: Engine;
  /** Must notify `engine` of what it writes (engine.onItems/onUsers/onEvents). */
  ingestor: BatchIngestor;
  config: Config;
  /**
   * JSON-lines log level (pino); absent = no logging (tests). `info` logs one line per request, `warn`
   * only failures (5xx with their stack).
   */
  logLevel?: Config['logLevel'];
  /** Also export process metrics (CPU, memory, event loop) on /metrics. */
  defaultMetrics?: boolean;
  /**
   * Serves GET /v1/search and /v1/suggest when given (src/search/routes.ts). A holder (LiveSearch) whose
   * index is still building makes them answer 503 with Retry-After; deletes are forwarded to it.
   */
  search?: SearchIndex | SearchHolder;
  /**
   * Serves GET /v1/models and adds models + trainer to /healthz when given: the registry's active versions
   * and the trainer's state (src/train/status.ts), read per request from the data dir.
   */
  models?: () => ModelsStatus;
}

export interface TastemakerApp extends FastifyInstance {
  /** This app's metrics (one registry per app). */
  tastemakerMetrics: ServeMetrics;
}

/** Seconds a client is told to wait while the search index builds. */
const SEARCH_RETRY_AFTER_S = 5;

/**
 * The search routes over a holder: the same specs (validation, OpenAPI) bound to whichever index the
 * holder has when a request arrives, 503 before it has one.
 */
function lazySearchRoutes(holder: SearchHolder, opts: Parameters<typeof searchRouteSpecs>[1]): RouteSpec[] {
  let boundTo: SearchService | undefined;
  let bound: RouteSpec[] = [];
  const current = (i: number, reply: FastifyReply): RouteSpec => {
    const index = holder.service();
    if (!index) {
      void reply.header('retry-after', String(SEARCH_RETRY_AFTER_S));
      throw new UnavailableError('search index is building, retry shortly');
    }
    if (index !== boundTo) [boundTo, bound] = [index, searchRouteSpecs(index, opts)];
    return bound[i];
  };
  // Handlers of the template are never called: it only lends the route shapes.
  return searchRouteSpecs(new SearchIndex(), opts).map((spec, i) => ({
    ...spec,
    errors: [...spec.errors, 503],
    handler: (ctx) => current(i, ctx.reply).handler(ctx),
  }));
}

/** Longest raw path segment: ids are ≤ 256 characters, up to 12 bytes each once percent-encoded. */
const MAX_PARAM_LENGTH = 4_096;
const MAX_LOGGED_URL = 200;

function parseWith<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  // An unknown key is reported at the key itself, so `?nn=5` says `nn: unknown field`.
  const issues = issuesFromSchema(r.error.issues);
  throw new ValidationError(`invalid ${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
}

/** 404 for an unknown catalog id, reported at the `id` path parameter. */
function notFound(kind: 'item' | 'user', id: string): NotFoundError {
  return new NotFoundError(`${kind} ${JSON.stringify(id)} not found`, [{ path: 'id', message: `unknown ${kind} id` }]);
}

export function buildApp(opts: BuildAppOptions): TastemakerApp {
  const { engine, ingestor, config } = opts;
  const { limits } = config;
  const store = engine.store;
  const keys = new KeyRing(config.adminKeys, config.clientKeys);
  const metrics = createMetrics({ defaultMetrics: opts.defaultMetrics });

  const app = Fastify({
    logger: opts.logLevel ? { level: opts.logLevel } : false,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: limits.bodyLimitBytes,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Bad percent-encoding and over-long path segments fail in the router, before the error handler.
    frameworkErrors: (err, _request, reply) => {
      const { status, body } = toErrorResponse(err);
      metrics.errors.inc({ code: body.error });
      void (reply as FastifyReply).code(status).send(body);
    },
    // Node answers 408 to a request whose headers have not all arrived within requestTimeoutMs, checked
    // every connectionsCheckingInterval (default 30 s, up to twice the limit); every 1/10 of the limit
    // keeps it within 10 %. A body stalled after the headers is the body deadline's (preParsing below).
    requestTimeout: limits.requestTimeoutMs,
    http: { connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(limits.requestTimeoutMs / 10))) },
    // Errors node raises before fastify sees a request (timeout, header overflow, malformed HTTP) are
    // written straight to the socket; this writes them in our error shape too.
    clientErrorHandler: (err, socket) => {
      if ((err as { code?: string }).code === 'ECONNRESET' || socket.destroyed) return;
      const { status, body } = clientErrorResponse(err, limits.requestTimeoutMs);
      metrics.errors.inc({ code: body.error });
      const json = JSON.stringify(body);
      if (socket.writable) {
        socket.write(
          `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
            `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
        );
      }
      socket.destroy();
    },
    // fastify's own 503 while closing has another shape; the onRequest hook below answers instead.
    return503OnClosing: false,
  }) as unknown as TastemakerApp;
  app.decorate('tastemakerMetrics', metrics);

  // A body still arriving after requestTimeoutMs fails with a 408 in our error shape (body-deadline.ts).
  app.addHook('preParsing', async (request, _reply, payload) => {
    const hasBody = request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined;
    return hasBody ? withBodyDeadline(payload, limits.requestTimeoutMs) : payload;
  });

  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async () => {
    if (closing) throw new UnavailableError('server is shutting down; retry on another instance');
  });

  // Only JSON bodies: every other media type is a 415 before any byte is interpreted.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers['content-type'] ?? '')?.[1];
    if (charset && !/^utf-?8$/i.test(charset)) {
      const err = new Error(`unsupported charset "${charset}": send UTF-8 JSON`) as Error & { statusCode: number };
      err.statusCode = 415;
      done(err, undefined);
      return;
    }
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (e) {
      done(e as Error, undefined);
    }
  });

  app.setErrorHandler((err, request, reply) => {
    const { status, body } = toErrorResponse(err);
    metrics.errors.inc({ code: body.error });
    if (status >= 500) request.log.error({ err }, 'request failed');
    // The rest of a timed-out body may never come: do not keep the connection waiting for it.
    if (status === 408) void reply.header('connection', 'close');
    return reply.code(status).send(body);
  });

  app.setNotFoundHandler((request, reply) => {
    metrics.errors.inc({ code: 'not_found' });
    const url = request.url.length > MAX_LOGGED_URL ? `${request.url.slice(0, MAX_LOGGED_URL)}…` : request.url;
    return reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${url}` });
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe(
      { route, method: request.method, status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    request.log.info({ method: request.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 }, 'request');
  });

  async function batch(kind: 'items' | 'users' | 'events', rows: unknown, ingest: (rows: unknown) => Promise<BatchResult>) {
    if (!Array.isArray(rows)) {
      throw new ValidationError(`request body must be a JSON array of ${kind}`, [{ path: '(body)', message: 'expected an array' }]);
    }
    if (rows.length > limits.batchSize) {
      throw new PayloadTooLargeError(`batch has ${rows.length} ${kind}; at most ${limits.batchSize} per request`, [
        { path: '(body)', message: `at most ${limits.batchSize} rows (limits.batchSize)` },
      ]);
    }
    const result = await ingest(rows);
    metrics.rowsIngested.inc({ kind }, result.accepted);
    metrics.rowsRejected.inc({ kind }, result.rejected.length);
    if (kind === 'events') metrics.eventsIngested.inc(result.accepted - result.duplicates);
    return result;
  }

  const batchDoc = (kind: string) => ({
    status: 200,
    name: 'BatchResult',
    schema: BatchResultSchema,
    description: `Counts of accepted ${kind}, idempotent duplicates, and every rejected row with its index and reasons.`,
  });
  const batchErrors = [400, 401, 403, 413, 415];
  const deleted = { status: 200, name: 'Deleted', schema: DeletedBody, description: 'Deleted.' };

  const routes: RouteSpec[] = [
    defineRoute({
      method: 'POST', url: '/v1/items', access: 'admin', tag: 'catalog', operationId: 'upsertItems',
      summary: 'Insert or replace items (batch)',
      body: { name: 'ItemBatch', schema: ItemBatch },
      response: batchDoc('items'), errors: batchErrors,
      handler: ({ body }) => batch('items', body, (r) => ingestor.ingestItems(r)),
    }),
    defineRoute({
      method: 'POST', url: '/v1/users', access: 'admin', tag: 'catalog', operationId: 'upsertUsers',
      summary: 'Insert or replace users (batch)',
      body: { name: 'UserBatch', schema: UserBatch },
      response: batchDoc('users'), errors: batchErrors,
      handler: ({ body }) => batch('users', body, (r) => ingestor.ingestUsers(r)),
    }),
    defineRoute({
      method: 'POST', url: '/v1/events', access: 'admin', tag: 'events', operationId: 'appendEvents',
      summary: 'Append feedback events (batch, idempotent by event id)',
      description: 'Events are visible to the next recommendation at once (counters update online).',
      body: { name: 'EventBatch', schema: EventBatch },
      response: batchDoc('events'), errors: batchErrors,
      handler: ({ body }) => batch('events', body, (r) => ingestor.ingestEvents(r)),
    }),
    defineRoute({
      method: 'GET', url: '/v1/items/:id', access: 'client', tag: 'catalog', operationId: 'getItem',
      summary: 'Read one item', params: IdParams,
      response: { status: 200, name: 'Item', schema: StoredItem, description: 'The stored item.' },
      errors: [400, 401, 404],
      handler: async ({ params }) => {
        const item = await store.getItem(params.id);
        if (!item) throw notFound('item', params.id);
        return item;
      },
    }),
    defineRoute({
      method: 'DELETE', url: '/v1/items/:id', access: 'admin', tag: 'catalog', operationId: 'deleteItem',
      summary: 'Delete one item (its past events stay in the log; new events for it are refused until it is upserted again)', params: IdParams,
      response: deleted, errors: [400, 401, 403, 404],
      handler: async ({ params }) => {
        if (!(await store.deleteItem(params.id))) {
          throw notFound('item', params.id);
        }
        engine.onItemDeleted(params.id);
        if (opts.search && !(opts.search instanceof SearchIndex)) opts.search.onItemDeleted?.(params.id);
        else opts.search?.remove([params.id]);
        return { id: params.id, deleted: true as const };
      },
    }),
    defineRoute({
      method: 'GET', url: '/v1/users/:id', access: 'client', tag: 'catalog', operationId: 'getUser',
      summary: 'Read one user', params: IdParams,
      response: { status: 200, name: 'User', schema: StoredUser, description: 'The stored user.' },
      errors: [400, 401, 404],
      handler: async ({ params }) => {
        const user = await store.getUser(params.id);
        if (!user) throw notFound('user', params.id);
        return user;
      },
    }),
    defineRoute({
      method: 'DELETE', url: '/v1/users/:id', access: 'admin', tag: 'catalog', operationId: 'deleteUser',
      summary: 'Delete one user, all of their events and impressions (GDPR erasure)',
      description:
        'Leaves a tombstone: later events for the user are refused until POST /v1/users creates it again, and events dated at or before the deletion stay refused after that. Answers once the online state was rebuilt without the user.',
      params: IdParams,
      response: deleted, errors: [400, 401, 403, 404],
      handler: async ({ params }) => {
        if (!(await store.deleteUser(params.id))) {
          throw notFound('user', params.id);
        }
        engine.onUserDeleted(params.id);
        // Counters and co-occurrences the user's events fed are recomputed without them before answering.
        await engine.rebuildOnline();
        return { id: params.id, deleted: true as const };
      },
    }),
    defineRoute({
      method: 'GET', url: '/v1/events', access: 'admin', tag: 'events', operationId: 'findEvents',
      summary: 'Find stored events by user, item and time range (admin; paged by log position)',
      query: EventsQuery,
      response: { status: 200, name: 'EventsPage', schema: EventsPage, description: 'Matching events in log order.' },
      errors: [400, 401, 403],
      handler: async ({ query }) => {
        const events = await store.findEvents(query);
        const full = events.length === query.limit;
        return { events, ...(full ? { nextAfterSeq: events[events.length - 1].seq } : {}) };
      },
    }),
    defineRoute({
      method: 'DELETE', url: '/v1/events/:id', access: 'admin', tag: 'events', operationId: 'deleteEvent',
      summary: 'Delete one event by id; the id is refused if sent again',
      description: 'Answers once the online state was rebuilt without the event.',
      params: IdParams,
      response: deleted, errors: [400, 401, 403, 404],
      handler: async ({ params }) => {
        if ((await store.deleteEvents({ ids: [params.id] })) === 0) {
          throw new NotFoundError(`event ${JSON.stringify(params.id)} not found`, [{ path: 'id', message: 'unknown event id' }]);
        }
        await engine.rebuildOnline();
        return { id: params.id, deleted: true as const };
      },
    }),
    defineRoute({
      method: 'POST', url: '/v1/events/delete', access: 'admin', tag: 'events', operationId: 'deleteEvents',
      summary: 'Delete events by ids, user, item and/or time range; their ids are refused if sent again',
      description: 'All given criteria must hold (fromMs ≤ timestamp < toMs). Answers once the online state was rebuilt from the remaining log.',
      body: { name: 'EventDeletion', schema: EventDeletionBody },
      response: { status: 200, name: 'EventsDeleted', schema: EventsDeletedBody, description: 'How many events were deleted.' },
      errors: [400, 401, 403, 413, 415],
      handler: async ({ body }) => {
        const selection = parseWith(EventDeletionBody, body, 'request body');
        const count = await store.deleteEvents(selection);
        const r = await engine.rebuildOnline();
        return { deleted: count, rebuild: { events: r.events, ms: Math.round(r.ms) } };
      },
    }),
    defineRoute({
      method: 'GET', url: '/v1/recommend/:userId', access: 'client', tag: 'recommend', operationId: 'recommend',
      summary: 'Recommendations for a user on a surface',
      description:
        'surface=home (personal feed), trending, fresh, next (continuation of sessionId). The impression is stored under requestId.',
      params: UserIdParams, query: recommendQuery(limits),
      response: { status: 200, name: 'RecommendResponse', schema: RecommendResponseSchema, description: 'Ranked items.' },
      errors: [400, 401, 404],
      handler: ({ params, query }) =>
        engine.recommend({
          userId: params.userId,
          surface: query.surface,
          n: query.n,
          exclude: query.excludeItems ? [...(query.exclude ?? []), ...query.excludeItems] : query.exclude,
          excludeCreators: query.excludeCreators,
          excludeTags: query.excludeTags,
          sessionId: query.sessionId,
          explain: query.explain,
          diversity: query.diversity,
        }),
    }),
    defineRoute({
      method: 'GET', url: '/v1/similar/:itemId', access: 'client', tag: 'recommend', operationId: 'similar',
      summary: 'Items similar to an item',
      params: ItemIdParams, query: similarQuery(limits),
      response: { status: 200, name: 'RecommendResponse', schema: RecommendResponseSchema, description: 'Ranked items.' },
      errors: [400, 401, 404],
      handler: ({ params, query }) => engine.similar(params.itemId, query.n, { userId: query.userId, explain: query.explain }),
    }),
    defineRoute({
      method: 'GET', url: '/healthz', access: 'open', tag: 'ops', operationId: 'health',
      summary: 'Liveness and catalog counts',
      response: { status: 200, name: 'Health', schema: HealthBody, description: 'Serving.' },
      errors: [],
      // What the store holds: maintained counts (three one-row reads), deletions subtracted.
      handler: async () => {
        const [items, users, events] = await Promise.all([store.countItems(), store.countUsers(), store.countEvents()]);
        const base = { status: 'ok' as const, items, users, events, modelVersions: engine.stats().modelVersions };
        if (!opts.models) return base;
        const m = opts.models();
        return {
          ...base,
          models: Object.fromEntries(m.models.map((x) => [x.name, { version: x.activeVersion, ageMs: x.ageMs, ...(x.metrics['valid.NDCG@10'] !== undefined ? { 'valid.NDCG@10': x.metrics['valid.NDCG@10'] } : {}) }])),
          trainer: {
            status: m.trainer.status,
            ...(m.trainer.model ? { model: m.trainer.model } : {}),
            ...(m.trainer.nextRunAt !== undefined ? { nextRunAt: m.trainer.nextRunAt } : {}),
            ...(m.trainer.lastRun ? { lastRunOutcome: m.trainer.lastRun.outcome } : {}),
          },
        };
      },
    }),
    defineRoute({
      method: 'GET', url: '/metrics', access: 'open', tag: 'ops', operationId: 'metrics',
      summary: 'Prometheus metrics',
      response: { status: 200, contentType: 'text/plain', description: 'Prometheus text format.' },
      errors: [],
      handler: async ({ reply }) => {
        reply.header('content-type', metrics.registry.contentType);
        return metrics.registry.metrics();
      },
    }),
  ];

  const modelsStatus = opts.models;
  if (modelsStatus) {
    routes.push(
      defineRoute({
        method: 'GET', url: '/v1/models', access: 'client', tag: 'ops', operationId: 'models',
        summary: 'Active model versions (age, validation metrics) and the trainer\'s state',
        response: { status: 200, name: 'ModelsStatus', schema: ModelsStatusSchema, description: 'One entry per trainable model, and the trainer.' },
        errors: [401],
        handler: async () => modelsStatus(),
      }),
    );
  }

  if (opts.search instanceof SearchIndex) routes.push(...searchRouteSpecs(opts.search, { store, maxN: limits.maxN, eventWeights: config.eventWeights }));
  else if (opts.search) routes.push(...lazySearchRoutes(opts.search, { store, maxN: limits.maxN, eventWeights: config.eventWeights }));

  let openapi: Record<string, unknown> | undefined;
  routes.push(
    defineRoute({
      method: 'GET', url: '/openapi.json', access: 'open', tag: 'ops', operationId: 'openapi',
      summary: 'This document (OpenAPI 3.1)',
      response: { status: 200, contentType: 'application/json', description: 'OpenAPI 3.1 document.' },
      errors: [],
      handler: async () =>
        (openapi ??= buildOpenApi(routes, {
          title: 'Tastemaker',
          version: '0.1.0',
          description:
            'Recommendation engine API. Batch bodies are JSON arrays. Errors: {error, message, issues?[{path, message}]}.',
        })),
    }),
  );

  for (const spec of routes) {
    app.route({
      method: spec.method,
      url: spec.url,
      // HEAD only where it is harmless: a HEAD recommend would still log an impression.
      exposeHeadRoute: spec.method === 'GET' && spec.access === 'open',
      onRequest:
        spec.access === 'open'
          ? undefined
          : async (request) => {
              authorize(keys, spec.access, request.headers);
            },
      handler: async (request, reply) => {
        const params = spec.params ? parseWith(spec.params, request.params, 'path parameter') : {};
        const query = spec.query ? parseWith(spec.query, parseQueryStrict(request.url), 'query string') : {};
        const out = await spec.handler({ params, query, body: request.body, request, reply });
        reply.code(spec.response.status);
        return out;
      },
    });
  }
  return app;
}
