/**
 * The latency floor of the serving benches: a bare fastify app whose one route,
 * GET /v1/recommend/:userId, answers a fixed page (a recommend response captured from the real server,
 * so the same JSON shape and size), serialised per request like the real one. No auth, engine, store or
 * metrics: what is left is node + fastify + loopback HTTP + JSON under the same load, on a process started
 * with the same node flags. Prints `serving at <url>` like `tastemaker serve`; exits when the parent does
 * (IPC channel closed) or on SIGTERM.
 *
 *   node [flags] --import tsx bench/lib/floor-server.ts <page.json>
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const file = process.argv[2];
if (!file) throw new Error('usage: floor-server.ts <page.json>');
const page = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
const app = Fastify({ logger: false });
app.get('/v1/recommend/:userId', async () => page);
const url = await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`serving at ${url}`);
const stop = (): void => void app.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
