// How one node proves to another that a call comes from a node of the same cluster: an HMAC-SHA256, under
// the cluster secret, over the method, the path, the time, the calling node and the node called. The
// called node's id is in the MAC and not in a header, so a call captured on its way to one node does not
// open another; the time bounds how long a captured call can be replayed (±INTERNAL_CLOCK_SKEW_MS).
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AuthError } from '../errors/index.js';

export const INTERNAL_HEADERS = {
  node: 'x-warden-node',
  timestamp: 'x-warden-timestamp',
  signature: 'x-warden-signature',
} as const;

/** How far the caller's clock may be from ours (NTP keeps a cluster far closer). */
export const INTERNAL_CLOCK_SKEW_MS = 60_000;

export interface InternalCall {
  method: string;
  /** The path and query as sent (the request target). */
  path: string;
  /** Caller's clock, epoch ms. */
  timestamp: number;
  /** The calling node. */
  from: string;
  /** The node called. */
  to: string;
}

function mac(secret: Buffer, c: InternalCall): Buffer {
  const text = ['warden-internal-v1', c.method.toUpperCase(), c.path, String(c.timestamp), c.from, c.to].join('\n');
  return createHmac('sha256', secret).update(text, 'utf8').digest();
}

/** The headers that authenticate `call` (sent with it). */
export function signInternalCall(secret: Buffer, call: InternalCall): Record<string, string> {
  return {
    [INTERNAL_HEADERS.node]: call.from,
    [INTERNAL_HEADERS.timestamp]: String(call.timestamp),
    [INTERNAL_HEADERS.signature]: mac(secret, call).toString('hex'),
  };
}

/** The claimed caller of a request's headers, before anything is checked (for the audit row of a refusal). */
export function claimedNode(headers: Record<string, string | string[] | undefined>): string | null {
  const v = headers[INTERNAL_HEADERS.node];
  return typeof v === 'string' && v.length > 0 ? v.slice(0, 64) : null;
}

/**
 * Check a received call's headers: the MAC first (nothing else is told to a caller without the secret),
 * then the time. Returns the calling node's id, which the caller must still find active in cluster_nodes.
 * Throws AuthError CLUSTER_SIGNATURE_INVALID or CLUSTER_TIMESTAMP_STALE.
 */
export function verifyInternalCall(
  secret: Buffer,
  request: { method: string; path: string; headers: Record<string, string | string[] | undefined> },
  self: string,
  now: number,
): string {
  const from = request.headers[INTERNAL_HEADERS.node];
  const ts = request.headers[INTERNAL_HEADERS.timestamp];
  const sig = request.headers[INTERNAL_HEADERS.signature];
  if (typeof from !== 'string' || typeof ts !== 'string' || typeof sig !== 'string' || !/^[0-9]{1,16}$/.test(ts) || !/^[0-9a-f]{64}$/.test(sig) || from.length === 0 || from.length > 64) {
    throw new AuthError('CLUSTER_SIGNATURE_INVALID', 'the call carries no well-formed node signature');
  }
  const timestamp = Number(ts);
  const expected = mac(secret, { method: request.method, path: request.path, timestamp, from, to: self });
  if (!timingSafeEqual(expected, Buffer.from(sig, 'hex'))) throw new AuthError('CLUSTER_SIGNATURE_INVALID', 'the signature does not match (another secret, or signed for another node, path or time)');
  if (Math.abs(now - timestamp) > INTERNAL_CLOCK_SKEW_MS) {
    throw new AuthError('CLUSTER_TIMESTAMP_STALE', `the call was signed ${Math.round((now - timestamp) / 1000)} s from now (more than ${INTERNAL_CLOCK_SKEW_MS / 1000} s)`);
  }
  return from;
}
