// A GET to another node's web daemon over TLS, accepting only the certificate pinned for that node. The
// pin is checked right after the handshake and before a byte of the request is written, so a signed call
// never reaches a server that is not the node (a self-signed web certificate has no CA to check instead).
import http from 'node:http';
import tls from 'node:tls';
import { isIP } from 'node:net';
import { WardenError } from '../errors/index.js';
import { normalizeFingerprint } from './fingerprint.js';

export interface PinnedGetOptions {
  /** https://host:port of the peer. */
  baseUrl: string;
  path: string;
  /** Lower-case hex SHA-256 of the certificate the peer must show. */
  fingerprint: string;
  headers: Record<string, string>;
  /** For the connection and the response head together. */
  timeoutMs: number;
  /** Named in errors ("node X"). */
  peer: string;
}

/** Connected, pinned, and the response head received; the body is for the caller to read. */
export async function pinnedGet(o: PinnedGetOptions): Promise<http.IncomingMessage> {
  let url: URL;
  try {
    url = new URL(o.baseUrl);
  } catch {
    throw new WardenError('CLUSTER_NODE_UNREACHABLE', `${o.peer} has no valid address (${o.baseUrl})`);
  }
  if (url.protocol !== 'https:') throw new WardenError('CLUSTER_NODE_UNREACHABLE', `${o.peer}'s address is not https (${o.baseUrl})`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(url.port || 443);
  const deadline = Date.now() + o.timeoutMs;
  const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ host, port, ...(isIP(host) ? {} : { servername: host }), rejectUnauthorized: false, minVersion: 'TLSv1.2' });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new WardenError('CLUSTER_NODE_UNREACHABLE', `${o.peer} is unreachable: no TLS connection within ${o.timeoutMs} ms`));
    }, o.timeoutMs);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new WardenError('CLUSTER_NODE_UNREACHABLE', `${o.peer} is unreachable: ${e.code ?? e.message}`));
    });
  });
  const shown = normalizeFingerprint(socket.getPeerCertificate().fingerprint256 ?? '');
  if (shown !== o.fingerprint.toLowerCase()) {
    socket.destroy();
    throw new WardenError('CLUSTER_PEER_UNTRUSTED', `${o.peer} showed a certificate other than the one pinned for it (sha256 ${shown || 'none'}, pinned ${o.fingerprint}): nothing was sent`);
  }
  return new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.request({ method: 'GET', path: o.path, headers: { ...o.headers, host: url.host }, createConnection: () => socket }, (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new WardenError('CLUSTER_NODE_UNREACHABLE', `${o.peer} did not answer within ${o.timeoutMs} ms`));
    }, Math.max(1, deadline - Date.now()));
    req.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new WardenError('CLUSTER_NODE_UNREACHABLE', `${o.peer} is unreachable: ${e.code ?? e.message}`));
    });
    req.end();
  });
}
