// CredSSP client (MS-CSSP) with NTLMv2 (MS-NLMP): logs the proxy in to an RDP target that chose PROTOCOL_HYBRID,
// over the TLS connection the caller opened, bound to the target's public key, sending the vaulted credential.
import type { X509Certificate } from 'node:crypto';
import { createHash, randomBytes } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { DerError, frameLength } from './der.js';
import { NtlmError, authenticate, negotiateMessage, type NtlmChannel, type NtlmSession } from './ntlm.js';
import { decodeTsRequest, encodeTsPasswordCredentials, encodeTsRequest, subjectPublicKey, type TsRequest } from './tsrequest.js';

export type CredSspFailure = 'refused' | 'protocol' | 'timeout';

/** Never carries a secret: messages name the step and, for a refusal, the server's NTSTATUS. */
export class CredSspError extends Error {
  constructor(
    readonly reason: CredSspFailure,
    message: string,
  ) {
    super(message);
    this.name = 'CredSspError';
  }
}

export interface CredSspCredentials {
  domain: string;
  user: string;
  password: string;
}

export interface CredSspOptions {
  /** For the whole exchange; default 15 s. */
  timeoutMs?: number;
  /** The workstation name in the NTLM AUTHENTICATE message; default WARDEN. */
  workstation?: string;
  /**
   * The server's certificate, when the caller already read it: Node 20's `getPeerX509Certificate()` answers
   * only its first call on a socket (later calls return undefined), and the proxy reads it first to pin it.
   */
  peerCertificate?: X509Certificate;
}

/** The version we speak; the binding follows the server's version (2..4: key echo, 5+: nonce hashes). */
const CLIENT_VERSION = 6;
/** Far above any NTLM exchange; a peer announcing more is not a CredSSP server. */
const MAX_TSREQUEST = 64 * 1024;
const C2S = Buffer.from('CredSSP Client-To-Server Binding Hash\0', 'latin1');
const S2C = Buffer.from('CredSSP Server-To-Client Binding Hash\0', 'latin1');

/**
 * Reads whole TSRequests off the socket, never keeping bytes past the last one (they go back with unshift),
 * and turns the socket's end, error or silence into one failure.
 */
class Conversation {
  private buf = Buffer.alloc(0);
  /** The pending next(), if any: only it takes bytes off the socket. */
  private reader: ((b: Buffer) => void) | undefined;
  /** Every pending operation, rejected together when the conversation fails. */
  private readonly pending = new Set<(e: Error) => void>();
  private failure: CredSspError | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly wasFlowing: boolean | null;
  private readonly onReadable = () => this.pump();
  private readonly onEnd = () => this.fail(new CredSspError('refused', 'the server closed the connection during CredSSP'));
  private readonly onError = (e: NodeJS.ErrnoException) =>
    this.fail(new CredSspError('refused', `the connection failed during CredSSP${e.code ? ` (${e.code})` : ''}`));

  constructor(
    private readonly socket: TLSSocket,
    timeoutMs: number,
  ) {
    this.wasFlowing = socket.readableFlowing;
    this.timer = setTimeout(() => this.fail(new CredSspError('timeout', `no CredSSP answer within ${timeoutMs} ms`)), timeoutMs);
    socket.on('readable', this.onReadable);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
    if (socket.destroyed || socket.readableEnded) this.onEnd();
  }

  private fail(e: CredSspError): void {
    if (this.failure) return;
    this.failure = e;
    this.reader = undefined;
    for (const reject of this.pending) reject(e);
    this.pending.clear();
  }

  private pump(): void {
    if (!this.reader || this.failure) return;
    let chunk: Buffer | null;
    while ((chunk = this.socket.read() as Buffer | null) !== null) this.buf = Buffer.concat([this.buf, chunk]);
    if (this.buf.length > 0 && this.buf[0] !== 0x30) return this.fail(new CredSspError('protocol', 'the server did not answer with a TSRequest'));
    let len: number | null;
    try {
      len = frameLength(this.buf);
    } catch (e) {
      return this.fail(new CredSspError('protocol', `malformed TSRequest: ${(e as Error).message}`));
    }
    if (len !== null && len > MAX_TSREQUEST) return this.fail(new CredSspError('protocol', `TSRequest of ${len} bytes`));
    if (len === null || this.buf.length < len) return;
    const msg = this.buf.subarray(0, len);
    this.buf = this.buf.subarray(len);
    const resolve = this.reader;
    this.reader = undefined;
    resolve(msg);
  }

  private track<T>(run: (resolve: (v: T) => void, reject: (e: Error) => void) => void): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      const settle = (f: () => void) => {
        if (!this.pending.delete(reject)) return;
        f();
      };
      this.pending.add(reject);
      run(
        (v) => settle(() => resolve(v)),
        (e) => settle(() => reject(e)),
      );
    });
  }

  next(): Promise<Buffer> {
    return this.track<Buffer>((resolve) => {
      this.reader = resolve;
      this.pump();
    });
  }

  send(b: Buffer): Promise<void> {
    return this.track<void>((resolve, reject) => {
      this.socket.write(b, (err) => (err ? reject(this.failure ?? new CredSspError('refused', 'the connection failed during CredSSP')) : resolve()));
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.reader = undefined;
    this.pending.clear();
    const s = this.socket;
    s.removeListener('readable', this.onReadable);
    s.removeListener('end', this.onEnd);
    s.removeListener('close', this.onEnd);
    s.removeListener('error', this.onError);
    if (this.buf.length > 0 && !s.destroyed) s.unshift(this.buf);
    this.buf = Buffer.alloc(0);
    // Removing the last 'readable' listener puts a stream back to "no consumer yet" on the next tick; a socket
    // the caller had paused goes back to paused after that, unless someone began reading it meanwhile.
    if (this.wasFlowing === false) process.nextTick(() => s.listenerCount('data') === 0 && s.pause());
  }
}

function decodeReply(msg: Buffer): TsRequest {
  let r: TsRequest;
  try {
    r = decodeTsRequest(msg);
  } catch (e) {
    throw new CredSspError('protocol', `malformed TSRequest: ${(e as Error).message}`);
  }
  if (r.errorCode !== undefined && r.errorCode !== 0) {
    throw new CredSspError('refused', `the server refused the login (NTSTATUS 0x${r.errorCode.toString(16).padStart(8, '0')})`);
  }
  return r;
}

function wrap(ch: NtlmChannel, plain: Buffer): Buffer {
  const { signature, sealed } = ch.seal(plain);
  return Buffer.concat([signature, sealed]);
}

const sha256 = (...parts: Buffer[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

/**
 * Runs CredSSP on `socket` (TLS established, the target having selected PROTOCOL_HYBRID) and resolves once the
 * credentials are sent; the socket is then positioned at the first byte after the last TSRequest. Rejects with
 * CredSspError: 'refused' (credentials refused, the server's errorCode, or the server closing the connection,
 * which is how FreeRDP says no), 'protocol' (a reply that is not CredSSP, or a public-key binding that does not
 * match: another TLS endpoint in between), 'timeout'. On rejection the caller should destroy the socket.
 * A socket already being read ('data' listeners) is a programming error.
 */
export async function credsspAuthenticate(socket: TLSSocket, creds: CredSspCredentials, opts: CredSspOptions = {}): Promise<void> {
  if (socket.readableFlowing === true) throw new Error('credsspAuthenticate needs the socket to itself: it is already being read');
  const conv = new Conversation(socket, opts.timeoutMs ?? 15_000);
  let client: NtlmChannel | undefined;
  let server: NtlmChannel | undefined;
  try {
    const cert = opts.peerCertificate ?? socket.getPeerX509Certificate();
    if (!cert) throw new CredSspError('protocol', 'the server presented no TLS certificate');
    let publicKey: Buffer;
    try {
      publicKey = subjectPublicKey(cert.raw);
    } catch (e) {
      throw new CredSspError('protocol', `unreadable server certificate: ${(e as Error).message}`);
    }

    const negotiate = negotiateMessage();
    await conv.send(encodeTsRequest({ version: CLIENT_VERSION, negoToken: negotiate }));
    const challenge = decodeReply(await conv.next());
    if (!challenge.negoToken) throw new CredSspError('protocol', 'the server sent no NTLM challenge');
    if (challenge.version < 2) throw new CredSspError('protocol', `unsupported CredSSP version ${challenge.version}`);
    const hashed = challenge.version >= 5;

    let session: NtlmSession;
    try {
      session = authenticate({
        negotiate,
        challenge: challenge.negoToken,
        domain: creds.domain,
        user: creds.user,
        password: creds.password,
        workstation: opts.workstation ?? 'WARDEN',
      });
    } catch (e) {
      if (e instanceof NtlmError) throw new CredSspError('protocol', `bad NTLM challenge: ${e.message}`);
      throw e;
    }
    client = session.client;
    server = session.server;

    const nonce = hashed ? randomBytes(32) : undefined;
    const binding = nonce ? sha256(C2S, nonce, publicKey) : publicKey;
    await conv.send(encodeTsRequest({ version: CLIENT_VERSION, negoToken: session.message, pubKeyAuth: wrap(client, binding), clientNonce: nonce }));

    const answer = decodeReply(await conv.next());
    if (!answer.pubKeyAuth || answer.pubKeyAuth.length < 16) throw new CredSspError('protocol', "the server sent no public-key answer");
    let echoed: Buffer;
    try {
      echoed = server.unseal(answer.pubKeyAuth.subarray(0, 16), answer.pubKeyAuth.subarray(16));
    } catch (e) {
      if (e instanceof NtlmError) throw new CredSspError('protocol', `the server's public-key answer: ${e.message}`);
      throw e;
    }
    let expected: Buffer;
    if (nonce) expected = sha256(S2C, nonce, publicKey);
    else {
      // Versions 2..4: the server echoes the key with its first byte incremented.
      expected = Buffer.from(publicKey);
      expected[0] = (expected[0]! + 1) & 0xff;
    }
    if (!echoed.equals(expected)) throw new CredSspError('protocol', "the server's public-key binding does not match its TLS certificate");

    const domain = Buffer.from(creds.domain, 'utf16le');
    const user = Buffer.from(creds.user, 'utf16le');
    const password = Buffer.from(creds.password, 'utf16le');
    const tsCredentials = encodeTsPasswordCredentials(domain, user, password);
    password.fill(0);
    const authInfo = wrap(client, tsCredentials);
    tsCredentials.fill(0);
    await conv.send(encodeTsRequest({ version: CLIENT_VERSION, authInfo }));
  } catch (e) {
    // Parsers of what the server sent throw these; RangeError is a Buffer read out of bounds.
    if (e instanceof DerError || e instanceof NtlmError || e instanceof RangeError) throw new CredSspError('protocol', e.message);
    throw e;
  } finally {
    conv.dispose();
    client?.wipe();
    server?.wipe();
  }
}
