/**
 * Route specifications and the OpenAPI 3.1 document built from them. A route is declared once — method,
 * path, access role, zod schemas for params/query/body/response — and that one declaration drives both
 * the fastify registration (validation, auth) in app.ts and /openapi.json here (via z.toJSONSchema).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Access } from './auth.js';
import { ErrorBody } from './schemas.js';

export interface RouteContext<P, Q> {
  params: P;
  query: Q;
  /** The parsed JSON body, still unvalidated (batch routes validate row by row). */
  body: unknown;
  request: FastifyRequest;
  reply: FastifyReply;
}

export interface RouteSpec<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType> {
  method: 'GET' | 'POST' | 'DELETE';
  /** fastify path, `:name` for params. */
  url: string;
  access: Access;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  params?: P;
  query?: Q;
  /** Documented body shape (named in components); validated by the handler. */
  body?: { name: string; schema: z.ZodType };
  /** JSON responses name a schema (a component); others give only their content type. */
  response: { status: number; description: string } & ({ name: string; schema: z.ZodType } | { contentType: string });
  /** Error statuses the route can answer, documented with the shared error body. */
  errors: number[];
  handler(ctx: RouteContext<z.output<P>, z.output<Q>>): Promise<unknown>;
}

/** Keeps the params/query generics so the handler sees the parsed types. */
export function defineRoute<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType>(
  spec: RouteSpec<P, Q>,
): RouteSpec {
  return spec as unknown as RouteSpec;
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input; `issues` names each field and the reason.',
  401: 'Missing or unknown API key.',
  403: 'The API key lacks the role this route needs.',
  404: 'Unknown id.',
  413: 'Body or batch larger than the configured limits.',
  415: 'Content-Type is not application/json.',
  503: 'Not ready yet (e.g. the search index is still building); retry after the Retry-After seconds.',
};

type JsonSchema = Record<string, unknown>;

function stripMeta(s: JsonSchema): JsonSchema {
  const { $schema: _s, $id: _i, ...rest } = s;
  return rest;
}

/** Component schemas for a set of named zod schemas, with `$ref`s between them. */
function components(named: Map<string, z.ZodType>, io: 'input' | 'output'): Record<string, JsonSchema> {
  const reg = z.registry<{ id: string }>();
  for (const [id, schema] of named) reg.add(schema, { id });
  const out = z.toJSONSchema(reg, { io, unrepresentable: 'any', uri: (id) => `#/components/schemas/${id}` });
  const result: Record<string, JsonSchema> = {};
  for (const [id, s] of Object.entries(out.schemas)) result[id] = stripMeta(s as JsonSchema);
  return result;
}

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const js = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  const required = new Set(js.required ?? []);
  return Object.entries(js.properties ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    ...(typeof s.description === 'string' ? { description: s.description } : {}),
    schema: s,
  }));
}

export interface OpenApiInfo {
  title: string;
  version: string;
  description: string;
}

export function buildOpenApi(routes: RouteSpec[], info: OpenApiInfo): JsonSchema {
  // Request bodies are documented as clients send them (defaults optional), responses as we send them.
  const requestSchemas = new Map<string, z.ZodType>();
  const responseSchemas = new Map<string, z.ZodType>([['Error', ErrorBody]]);
  for (const r of routes) {
    if (r.body) requestSchemas.set(r.body.name, r.body.schema);
    if ('schema' in r.response) responseSchemas.set(r.response.name, r.response.schema);
  }
  const schemas = { ...components(requestSchemas, 'input'), ...components(responseSchemas, 'output') };

  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
    const responses: Record<string, JsonSchema> = {
      [String(r.response.status)]: {
        description: r.response.description,
        content:
          'schema' in r.response
            ? { 'application/json': { schema: { $ref: `#/components/schemas/${r.response.name}` } } }
            : { [r.response.contentType]: { schema: { type: r.response.contentType.startsWith('text/') ? 'string' : 'object' } } },
      },
    };
    for (const status of r.errors) {
      responses[String(status)] = {
        description: ERROR_DESCRIPTIONS[status] ?? 'Error.',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      };
    }
    const op: JsonSchema = {
      operationId: r.operationId,
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      tags: [r.tag],
      security: r.access === 'open' ? [] : [{ bearerAuth: [] }, { apiKeyHeader: [] }],
      'x-required-role': r.access,
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
      responses,
    };
    if (r.body) {
      op.requestBody = {
        required: true,
        content: { 'application/json': { schema: { $ref: `#/components/schemas/${r.body.name}` } } },
      };
    }
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }

  return {
    openapi: '3.1.0',
    info,
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <key>' },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'x-api-key' },
      },
    },
  };
}
