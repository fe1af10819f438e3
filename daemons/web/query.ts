// Helpers for query-string values the JSON schema cannot check alone.
import { InputError } from '../../appliance/errors/index.js';

/** An optional ISO 8601 date parameter as epoch-ms; a value that is not a date is a 400 naming it. */
export function dateParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new InputError(`${name} must be a date (ISO 8601)`, { field: name });
  return t;
}
