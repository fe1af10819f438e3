// Field checks shared by the access services' validators.
import { InputError, requireText } from '../errors/index.js';

export function optionalText(v: unknown, field: string, max: number): string {
  return v === undefined || v === null ? '' : requireText(v, field, { max });
}

export function optionalId(v: unknown, field: string): number | null {
  if (v === undefined || v === null) return null;
  if (!Number.isInteger(v) || (v as number) < 1) throw new InputError(`${field} must be an id`, { field });
  return v as number;
}

export function flag(v: unknown, field: string, def: boolean): boolean {
  if (v === undefined) return def;
  if (typeof v !== 'boolean') throw new InputError(`${field} must be true or false`, { field });
  return v;
}
