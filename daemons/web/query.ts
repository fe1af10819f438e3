// Helpers for query-string values the JSON schema cannot check alone.
import { InputError } from '../../appliance/errors/index.js';

/** An optional ISO 8601 date parameter as epoch-ms; a value that is not a date is a 400 naming it. */
export function dateParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new InputError(`${name} must be a date (ISO 8601)`, { field: name });
  return t;
}

/** A list's page size: 50 unless asked, at most 500 (every list pages on the server). */
export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 500;

/** The querystring schema of `limit` and `offset` (strings of digits; pageLimit caps the limit). */
export const pagingProperties = {
  limit: { type: 'string', pattern: '^[1-9][0-9]{0,5}$' },
  offset: { type: 'string', pattern: '^(0|[1-9][0-9]{0,8})$' },
} as const;

export function pageLimit(value: string | undefined, defaultLimit = DEFAULT_PAGE): number {
  if (value === undefined) return defaultLimit;
  const n = Number(value);
  if (n > MAX_PAGE) throw new InputError(`limit must be at most ${MAX_PAGE}`, { field: 'limit' });
  return n;
}
