// How errors become HTTP answers. Every authentication failure is the same 401 with the same message;
// the precise reason is already in the audit trail.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AuthError, GENERIC_AUTH_MESSAGE, isWardenError, PolicyError, type ErrorCode } from '../../appliance/errors/index.js';
import { logger } from '../../appliance/log/index.js';

const log = logger('web');

const STATUS: Partial<Record<ErrorCode, number>> = {
  AUTH_FORBIDDEN: 403,
  AUTH_CSRF: 403,
  AUTH_PASSWORD_CHANGE_REQUIRED: 403,
  MFA_REQUIRED: 403,
  INPUT_INVALID: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  STORE_CONFLICT: 409,
  CA_SUBJECT_CONFLICT: 409,
  RECORDING_UNREADABLE: 422,
  // A recording on another node that this one cannot fetch: the peer is the one failing, not the request.
  ROTATION_FAILED: 502,
  DISCOVERY_FAILED: 502,
  CLUSTER_NODE_UNKNOWN: 502,
  CLUSTER_NODE_LEFT: 502,
  CLUSTER_NODE_UNREACHABLE: 502,
  CLUSTER_PEER_UNTRUSTED: 502,
  CLUSTER_FETCH_REFUSED: 502,
};

export interface ErrorBody {
  error: string;
  message: string;
  details?: Record<string, unknown>;
}

export function errorBody(e: unknown): { status: number; body: ErrorBody } {
  if (e instanceof AuthError) {
    if (e.code === 'AUTH_IP_DENIED') return { status: 403, body: { error: 'AUTH_INVALID', message: GENERIC_AUTH_MESSAGE } };
    return { status: 401, body: { error: 'AUTH_INVALID', message: GENERIC_AUTH_MESSAGE } };
  }
  if (e instanceof PolicyError) return { status: 422, body: { error: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) } };
  if (isWardenError(e)) {
    if (e.code.startsWith('KEYS_')) return { status: 503, body: { error: 'KEYS_UNAVAILABLE', message: 'the key service is unavailable' } };
    if (e.code === 'STORE_UNAVAILABLE') return { status: 503, body: { error: 'STORE_UNAVAILABLE', message: 'the database is unavailable' } };
    const status = STATUS[e.code];
    if (status) {
      const message = e.code === 'AUTH_FORBIDDEN' ? 'Access denied' : e.message;
      return { status, body: { error: e.code, message, ...(e.details ? { details: e.details } : {}) } };
    }
  }
  const fe = e as FastifyError;
  if (fe && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    // Fastify's own 4xx: schema validation, body too large, bad media type, malformed JSON.
    const code = fe.validation ? 'INPUT_INVALID' : fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'BODY_TOO_LARGE' : fe.statusCode === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'INPUT_INVALID';
    return { status: fe.statusCode, body: { error: code, message: fe.message } };
  }
  return { status: 500, body: { error: 'INTERNAL', message: 'internal error' } };
}

export function replyError(e: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const { status, body } = errorBody(e);
  if (status >= 500) log.error('request failed', { method: request.method, url: request.routeOptions.url, error: e });
  return reply.code(status).header('cache-control', 'no-store').send(body);
}
