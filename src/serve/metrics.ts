/**
 * Prometheus metrics for one app instance. Each app gets its own prom-client Registry, so several apps
 * in one process (tests, multi-tenant embedding) never share or double-register series.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ServeMetrics {
  registry: Registry;
  httpDuration: Histogram<'route' | 'method' | 'status_code'>;
  eventsIngested: Counter<never>;
  rowsIngested: Counter<'kind'>;
  rowsRejected: Counter<'kind'>;
  errors: Counter<'code'>;
}

/** Latency buckets in seconds: sub-millisecond cache hits up to multi-second batch imports. */
const DURATION_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): ServeMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'tastemaker_' });
  return {
    registry,
    httpDuration: new Histogram({
      name: 'tastemaker_http_request_duration_seconds',
      help: 'HTTP request latency by route pattern, method and status code',
      labelNames: ['route', 'method', 'status_code'],
      buckets: DURATION_BUCKETS_S,
      registers: [registry],
    }),
    eventsIngested: new Counter({
      name: 'tastemaker_events_ingested_total',
      help: 'Events newly appended to the log (idempotent duplicates excluded)',
      registers: [registry],
    }),
    rowsIngested: new Counter({
      name: 'tastemaker_rows_accepted_total',
      help: 'Batch rows accepted, by kind (items, users, events)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    rowsRejected: new Counter({
      name: 'tastemaker_rows_rejected_total',
      help: 'Batch rows rejected by validation, by kind (items, users, events)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    errors: new Counter({
      name: 'tastemaker_errors_total',
      help: 'Error responses by error code (4xx and 5xx)',
      labelNames: ['code'],
      registers: [registry],
    }),
  };
}
