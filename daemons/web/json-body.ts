// The JSON body parser. Fastify's default decodes bytes leniently (invalid UTF-8 becomes U+FFFD and would
// be stored); ours refuses invalid UTF-8 and prototype-pollution keys with a clear 400.
import type { FastifyInstance } from 'fastify';
import { InputError } from '../../appliance/errors/index.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

export function parseJsonBody(body: Buffer): unknown {
  let text: string;
  try {
    text = decoder.decode(body);
  } catch {
    throw new InputError('request body is not valid UTF-8');
  }
  if (text.trim() === '') throw new InputError('request body is empty');
  try {
    return JSON.parse(text, (key, value: unknown) => {
      if (key === '__proto__' || key === 'constructor' || key === 'prototype') throw new InputError(`forbidden key ${key}`);
      return value;
    });
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError('request body is not valid JSON');
  }
}

export function installJsonParser(app: FastifyInstance): void {
  // JSON is the only body the API takes: text/plain and friends are a 415, not a string to validate.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (e) {
      const err = e as InputError & { statusCode?: number };
      err.statusCode = 400;
      done(err, undefined);
    }
  });
}
