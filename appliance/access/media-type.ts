// Media types of protected items: checked on the way in against RFC 6838 (type "/" subtype, each a
// restricted-name) with optional RFC 9110 parameters, and re-checked on the way out, so a value stored
// before the check (or edited in the database) can only ever degrade to application/octet-stream.
import { InputError } from '../errors/index.js';

export const DEFAULT_MEDIA_TYPE = 'application/octet-stream';

// RFC 6838 §4.2: restricted-name = restricted-name-first *126restricted-name-chars.
const RESTRICTED_NAME = "[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}";
// RFC 9110 §5.6.2 token and §5.6.4 quoted-string (printable ASCII only: no obs-text, no controls).
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const QUOTED = '"(?:[\\t !#-\\[\\]-~]|\\\\[\\t !-~])*"';
const PARAMETER = `[ \\t]*;[ \\t]*(${TOKEN})=(${TOKEN}|${QUOTED})`;
const MEDIA_TYPE = new RegExp(`^(${RESTRICTED_NAME})/(${RESTRICTED_NAME})((?:${PARAMETER})*)$`);
const PARAMETER_G = new RegExp(PARAMETER, 'g');
/** The column's width. */
const MAX_LENGTH = 128;

/** The media type in canonical form (type, subtype and parameter names in lower case), or null if it is not one. */
export function canonicalMediaType(value: string): string | null {
  if (value.length > MAX_LENGTH) return null;
  const m = MEDIA_TYPE.exec(value);
  if (!m) return null;
  const params = [...m[3]!.matchAll(PARAMETER_G)].map((p) => `; ${p[1]!.toLowerCase()}=${p[2]}`);
  return `${m[1]!.toLowerCase()}/${m[2]!.toLowerCase()}${params.join('')}`;
}

/** Validate a media type from a client: absent or empty means application/octet-stream. */
export function validateMediaType(value: unknown): string {
  if (value === undefined || value === null || value === '') return DEFAULT_MEDIA_TYPE;
  if (typeof value !== 'string') throw new InputError('mediaType must be a string', { field: 'mediaType' });
  const canonical = canonicalMediaType(value);
  if (canonical === null) {
    throw new InputError(`mediaType must be an RFC 6838 media type (type/subtype, optional ;name=value parameters, at most ${MAX_LENGTH} characters)`, { field: 'mediaType' });
  }
  return canonical;
}

/** A stored media type fit for a Content-Type header: the stored value if it is one, else the default. */
export function servableMediaType(stored: string): string {
  return canonicalMediaType(stored) ?? DEFAULT_MEDIA_TYPE;
}
