/**
 * API keys for a server started without configured keys (the demo, a first `serve`): one admin and one
 * client key are generated with crypto randomness and kept in `<dataDir>/keys.json`, created with mode
 * 0600 so only the owner can read it. The next start reuses them, so curl commands keep working.
 */
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ValidationError } from '../core/errors.js';
import { generateApiKey } from './auth.js';

export const KEY_FILE = 'keys.json';

const KeyFile = z.strictObject({ admin: z.string().min(16), client: z.string().min(16) });
export type ApiKeys = z.infer<typeof KeyFile>;

export interface EnsuredKeys extends ApiKeys {
  path: string;
  /** True when this call created the file. */
  created: boolean;
}

/** Reads `<dir>/keys.json`, creating it with fresh keys (mode 0600) when absent. */
export function ensureKeyFile(dir: string): EnsuredKeys {
  const path = join(dir, KEY_FILE);
  let text: string | undefined;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (text !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const r = KeyFile.safeParse(parsed);
    if (!r.success) {
      throw new ValidationError(`key file ${path} is malformed; delete it to generate new keys`, [
        { path: KEY_FILE, message: 'expected {"admin": "<key>", "client": "<key>"}' },
      ]);
    }
    // Tighten a file someone loosened; keys readable by others are as good as published.
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    return { ...r.data, path, created: false };
  }
  mkdirSync(dir, { recursive: true });
  const keys: ApiKeys = { admin: generateApiKey('admin'), client: generateApiKey('client') };
  writeFileSync(path, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return { ...keys, path, created: true };
}
