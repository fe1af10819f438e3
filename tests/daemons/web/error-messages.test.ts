// Every error code the web API can answer a browser with has a message in the catalogue (in every language, by
// the catalogue's type), so a page never falls back to the server's English text. The codes are worked out from
// the API's own mapping (daemons/web/http-errors.ts) over every ErrorCode the core declares, the PolicyError codes
// the core throws, and Fastify's own refusals; an authentication failure is the login's one message.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuthError, WardenError, type ErrorCode } from '../../../appliance/errors/index.js';
import { CATALOGUE } from '../../../appliance/i18n/catalogue.js';
import { errorBody } from '../../../daemons/web/http-errors.js';
import { tsFiles } from '../../helpers/source-files.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/** The ErrorCode union as the core declares it. */
function declaredCodes(): ErrorCode[] {
  // Comments first: they may hold a ';' of their own.
  const source = readFileSync(path.join(root, 'appliance', 'errors', 'index.ts'), 'utf8').replace(/\/\/.*$/gm, '');
  const union = /export type ErrorCode =([\s\S]*?);/.exec(source)![1]!;
  return [...union.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1] as ErrorCode);
}

/** Codes thrown as PolicyError (answered 422 with the code itself), read from the core's sources. */
function policyCodes(): string[] {
  const codes = new Set<string>();
  for (const f of tsFiles(path.join(root, 'appliance'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/new PolicyError\(\s*'([A-Z_]+)'/g)) codes.add(m[1]!);
  }
  return [...codes];
}

/** What a browser can receive as `error`, and the HTTP status it comes with. */
function answerable(): Map<string, number> {
  const out = new Map<string, number>();
  const add = (e: unknown) => {
    const { status, body } = errorBody(e);
    out.set(body.error, status);
  };
  for (const code of declaredCodes()) add(new WardenError(code, 'm'));
  for (const code of policyCodes()) out.set(code, 422);
  add(new AuthError('AUTH_BAD_PASSWORD', 'm'));
  add(Object.assign(new Error('too large'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' }));
  add(Object.assign(new Error('media'), { statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' }));
  add(Object.assign(new Error('schema'), { statusCode: 400, validation: [] }));
  return out;
}

describe('error messages for the browser', () => {
  test('every code the API can answer has a message, except the login failure (the login says it once for all)', () => {
    const en = CATALOGUE['en-US'] as Record<string, string>;
    const codes = answerable();
    assert.equal(codes.get('AUTH_INVALID'), 401);
    const missing = [...codes.keys()].filter((c) => c !== 'AUTH_INVALID' && en[`error.${c}`] === undefined);
    assert.deepEqual(missing, []);
  });

  test('the list is worked out, not empty: conflicts, the token, the database, internal errors and Fastify refusals are in it', () => {
    const codes = answerable();
    for (const c of ['CONFLICT', 'STORE_CONFLICT', 'KEYS_UNAVAILABLE', 'STORE_UNAVAILABLE', 'INTERNAL', 'BODY_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'MFA_PROVIDER_INVALID', 'NOT_FOUND']) {
      assert.ok(codes.has(c), c);
    }
    assert.equal(codes.has('KEYS_PIN_INCORRECT'), false, 'a token error is answered as KEYS_UNAVAILABLE');
  });
});
