// One RDP client connection, from its X.224 request to its session's end.
//
// The proxy never lets an unauthenticated client reach a target: it answers the connection sequence itself —
// X.224 (TLS chosen), TLS, MCS Connect-Response, Attach User, Channel Joins — until the client's ClientInfo
// PDU, which carries the Warden user and password (or the .rdp file's ticket came in the X.224 request). Only
// then is the person authenticated, the session admitted by the core's one decision, and the target dialled:
// X.224, TLS (its certificate pinned per device), CredSSP with the vaulted credential when the target wants
// NLA, then the client's own Connect-Initial and the same MCS steps, and the ClientInfo rewritten to carry the
// vaulted credential. From there frames are relayed both ways, slow-path ones with their MCS channel ids
// translated when the target's differ from the ones the proxy made up (same size, in place), and recorded.
// (A plain relay would let anyone who reaches port 3389 drive a target's pre-authentication RDP stack — MCS
// channel set-up is where BlueKeep lived — through the appliance. See the design note in the README.)
import net, { isIP } from 'node:net';
import tls from 'node:tls';
import type { Appliance } from '../../appliance/index.js';
import { parseLoginName, resolveTarget, type ProxySession, type RedeemedRdpTicket, type SessionRecording } from '../../appliance/sessions/index.js';
import type { ProxyAuthenticationProof } from '../../appliance/auth/index.js';
import { logger } from '../../appliance/log/index.js';
import * as P from './protocol/index.js';
import { credsspAuthenticate, CredSspError } from './credssp/index.js';
import { FrameSocket, StreamClosed } from './frame-socket.js';

const log = logger('rdp-proxy');

export interface RdpLimits {
  /** Time the peer has for each step of the connection sequence. */
  stepTimeoutMs: number;
  /** Time the target has to answer TCP, TLS and CredSSP. */
  targetTimeoutMs: number;
}

export const DEFAULT_LIMITS: RdpLimits = { stepTimeoutMs: 15_000, targetTimeoutMs: 15_000 };

export interface RdpConnectionDeps {
  appliance: Appliance;
  identity: { cert: Buffer; key: Buffer };
  limits: RdpLimits;
  /** The person is authenticated: the connection no longer counts as unauthenticated. */
  onAuthenticated: () => void;
}

/** The first MCS channel ids a server hands out (T.125; Windows and xrdp alike). */
const IO_CHANNEL = 1003;
/** PDUs the client may send before its ClientInfo: Erect Domain, Attach User, a join per channel. */
const MAX_PRELUDE_PDUS = 64;
/** A ticket as the web's .rdp file carries it (loadbalanceinfo). */
const TICKET_TOKEN = /^tsv:\/\/warden\/([A-Za-z0-9_-]{16,128})$/;
/** "password:123456": the account's TOTP code appended to the password. */
const TOTP_SUFFIX = /^([\s\S]*):(\d{6,8})$/;

type TargetFailure = 'host-key-mismatch' | 'target-auth-failed' | 'target-unreachable' | 'target-refused' | 'target-protocol';

class TargetError extends Error {
  constructor(
    readonly reason: TargetFailure,
    detail: string,
  ) {
    super(detail);
  }
}

interface Person {
  userId: number;
  username: string;
  authentication?: ProxyAuthenticationProof;
  deviceId: number;
  /** Given in the web when the ticket was asked for, where the group requires one. */
  reason?: string;
  credentialId: number;
}

/** The client's side of the MCS domain, as the proxy made it up. */
interface ClientDomain {
  user: number;
  io: number;
  channels: number[];
  message: number | undefined;
}

export class RdpConnection {
  private session: ProxySession | undefined;
  private recording: SessionRecording | undefined;
  private client: tls.TLSSocket | undefined;
  private target: net.Socket | undefined;
  private bytesIn = 0;
  private bytesOut = 0;
  private finished = false;
  private closing: Promise<void> = Promise.resolve();
  /** The client's MCS I/O channel once the proxy made it up: from then on a refusal can say why (Set Error Info). */
  private clientIo: number | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly source: string,
    private readonly deps: RdpConnectionDeps,
  ) {}

  /** Drive the connection; never rejects (a failure ends this connection only). */
  async run(): Promise<void> {
    try {
      await this.serve();
    } catch (e) {
      const reason = e instanceof TargetError ? e.reason : e instanceof StreamClosed ? 'client-disconnected' : 'protocol-error';
      if (!(e instanceof StreamClosed)) log.info('connection ended', { source: this.source, reason, error: (e as Error).message });
      // The target failed the person after admission: the client hears "denied", the session row says why.
      if (e instanceof TargetError) this.disconnect(P.ERRINFO_SERVER_DENIED_CONNECTION);
      await this.finish(reason);
    }
  }

  private async serve(): Promise<void> {
    const { stepTimeoutMs } = this.deps.limits;
    // 1. X.224, answered here.
    const raw = new FrameSocket(this.socket, 'client');
    const first = await raw.next(stepTimeoutMs);
    if (first.kind !== 'tpkt') throw new P.RdpProtocolError('the first frame is not an X.224 Connection Request');
    const request = P.parseConnectionRequest(first.bytes);
    const requested = request.requestedProtocols;
    raw.detach();
    // A ticket crosses the network before TLS (loadbalanceinfo is sent in the clear, as with RD Connection
    // Broker): it is redeemed at once, so the connection that carried it is the one that spends it — whoever
    // saw it on the wire is too late. Single use, 60 s, bound to the source address (appliance/sessions).
    const ticketToken = request.routingToken !== undefined ? TICKET_TOKEN.exec(request.routingToken) : null;
    const ticket = ticketToken ? await this.deps.appliance.rdpTickets.redeem(ticketToken[1]!, this.source) : undefined;
    if (ticket && !ticket.redeemed) throw new StreamClosed('ticket refused');
    if (requested === undefined || (requested & P.PROTOCOL_SSL) === 0) {
      // Standard RDP security (RC4, no certificate check) is not offered: TLS or nothing.
      this.socket.end(P.buildNegotiationFailure(P.SSL_REQUIRED_BY_SERVER));
      throw new P.RdpProtocolError('the client offered neither TLS nor NLA over TLS');
    }
    this.socket.write(P.buildConnectionConfirm(P.PROTOCOL_SSL));
    // 2. TLS with the client.
    const client = new tls.TLSSocket(this.socket, { isServer: true, cert: this.deps.identity.cert, key: this.deps.identity.key, minVersion: 'TLSv1.2' });
    this.client = client;
    client.on('error', () => {});
    await eventOrFailure(client, 'secure', stepTimeoutMs);
    const frames = new FrameSocket(client, 'client');
    // 3. MCS, answered here with made-up ids.
    const initialFrame = await frames.next(stepTimeoutMs);
    if (initialFrame.kind !== 'tpkt') throw new P.RdpProtocolError('expected the MCS Connect-Initial');
    const initial = P.parseConnectInitial(initialFrame.bytes);
    const n = initial.channels.length;
    const domain: ClientDomain = {
      io: IO_CHANNEL,
      channels: initial.channels.map((_, i) => IO_CHANNEL + 1 + i),
      message: initial.hasMessageChannel ? IO_CHANNEL + 1 + n : undefined,
      user: IO_CHANNEL + 1 + n + (initial.hasMessageChannel ? 1 : 0),
    };
    client.write(P.buildConnectResponse({ requestedProtocols: requested, ioChannel: domain.io, channelIds: domain.channels, ...(domain.message !== undefined ? { messageChannel: domain.message } : {}) }));
    const info = await this.prelude(frames, domain);
    this.clientIo = domain.io;
    // 4. Who is this, and may they?
    const person = ticket?.redeemed ? ticketPerson(ticket.ticket) : await this.authenticate(info);
    if (!person) {
      // Wrong password, unknown user, no such target for them: one answer, the reason is in the audit trail.
      this.disconnect(P.ERRINFO_SERVER_DENIED_CONNECTION);
      await this.finish('refused');
      return;
    }
    this.deps.onAuthenticated();
    const admission = await this.deps.appliance.sessions.open({
      userId: person.userId,
      deviceId: person.deviceId,
      credentialId: person.credentialId,
      protocol: 'rdp',
      source: this.source,
      ...(person.authentication ? { authentication: person.authentication } : {}),
      ...(person.reason ? { reason: person.reason } : {}),
    });
    if (!admission.admitted) {
      log.info('session refused', { user: person.username, refusal: admission.refusal.kind });
      this.disconnect(P.ERRINFO_SERVER_DENIED_CONNECTION);
      await this.finish('refused');
      return;
    }
    const session = admission.session;
    this.session = session;
    session.onEndRequested((why) => {
      this.disconnect(P.ERRINFO_RPC_INITIATED_DISCONNECT);
      void this.finish(`ended: ${why}`);
    });
    if (this.finished) return;
    // 5. The target, with the vaulted credential.
    const upstream = await this.dialTarget(session, initialFrame.bytes, domain, info);
    if (this.finished) return;
    // 6. Relay and record.
    this.recording = await this.deps.appliance.recordings.start(session, { cols: initial.core.desktopWidth, rows: initial.core.desktopHeight, term: 'rdp' });
    this.relay(frames, upstream.frames, domain, upstream.domain);
  }

  /** Erect Domain, Attach User and the Channel Joins, answered here, up to the ClientInfo PDU. */
  private async prelude(frames: FrameSocket, domain: ClientDomain): Promise<P.ClientInfo> {
    const joinable = new Set([domain.user, domain.io, ...domain.channels, ...(domain.message !== undefined ? [domain.message] : [])]);
    let attached = false;
    for (let i = 0; i < MAX_PRELUDE_PDUS; i++) {
      const f = await frames.next(this.deps.limits.stepTimeoutMs);
      if (f.kind !== 'tpkt') throw new P.RdpProtocolError('a fast-path frame before the ClientInfo PDU');
      const pdu = P.parseDomainPdu(f.bytes);
      switch (pdu.type) {
        case 'erectDomain':
          continue;
        case 'attachUserRequest':
          if (attached) throw new P.RdpProtocolError('a second Attach User Request');
          attached = true;
          this.client!.write(P.buildAttachUserConfirm(0, domain.user));
          continue;
        case 'channelJoinRequest':
          if (!attached || pdu.initiator !== domain.user || !joinable.has(pdu.channelId)) throw new P.RdpProtocolError(`a Channel Join Request for channel ${pdu.channelId} it was not given`);
          this.client!.write(P.buildChannelJoinConfirm(domain.user, pdu.channelId, 0));
          continue;
        case 'sendDataRequest':
          if (pdu.channelId === domain.io && P.isClientInfo(pdu.data)) return P.parseClientInfo(pdu.data);
          throw new P.RdpProtocolError('data before the ClientInfo PDU');
        default:
          throw new P.RdpProtocolError(`an unexpected ${pdu.type} before the ClientInfo PDU`);
      }
    }
    throw new P.RdpProtocolError('too many PDUs before the ClientInfo PDU');
  }

  /**
   * The person and the target from the ClientInfo's user name (`alice@db01`, `alice:Administrator@db01`) and password (`password` or
   * `password:123456` with the account's TOTP code). Undefined when refused; the reason is audited, the
   * client only sees the connection end.
   */
  private async authenticate(info: P.ClientInfo): Promise<Person | undefined> {
    const a = this.deps.appliance;
    // FreeRDP splits "alice@db01" into user and domain on some versions; put it back.
    const name = info.domain !== '' && !info.userName.includes('@') ? `${info.userName}@${info.domain}` : info.userName;
    const login = parseLoginName(name);
    if (!login || !login.target) {
      await a.sessions.recordRefusedLogin({ username: (login?.wardenUser ?? name).slice(0, 64), source: this.source, protocol: 'rdp', reason: login ? 'no target in the user name' : 'malformed user name' });
      return undefined;
    }
    const proxyLogin = a.proxyLogins.begin({ username: login.wardenUser, ip: this.source, protocol: 'rdp' });
    const split = TOTP_SUFFIX.exec(info.password);
    let step = await proxyLogin.password(split ? split[1]! : info.password);
    if (step.outcome === 'continue' && step.due === 'totp' && split) step = await proxyLogin.totp(split[2]!);
    if (step.outcome !== 'success') return undefined;
    const authentication = step.authentication;
    const resolved = await resolveTarget(a.accessDecisions, authentication.userId, 'rdp', login.target);
    if (!resolved.ok) {
      await a.sessions.recordRefusedLogin({ username: authentication.username, source: this.source, protocol: 'rdp', reason: `target ${login.target.device}: ${resolved.message}` });
      return undefined;
    }
    return { userId: authentication.userId, username: authentication.username, authentication, deviceId: resolved.target.device.id, credentialId: resolved.target.credential.id };
  }

  /** X.224, TLS (pinned), CredSSP when asked, then the client's MCS steps replayed and the ClientInfo rewritten. */
  private async dialTarget(session: ProxySession, initialFrame: Buffer, clientDomain: ClientDomain, info: P.ClientInfo): Promise<{ frames: FrameSocket; domain: ClientDomain }> {
    const t = session.target;
    const timeout = this.deps.limits.targetTimeoutMs;
    const socket = net.connect({ host: t.address, port: t.port });
    this.target = socket;
    socket.on('error', () => {});
    // Without it, the connection sequence's back-to-back small writes (Erect Domain, then Attach User) wait on
    // the target's delayed ACK: ~40 ms of every connect (bench/rdp-proxy.ts). The client side has it too.
    socket.setNoDelay(true);
    await eventOrFailure(socket, 'connect', timeout).catch((e) => {
      throw new TargetError('target-unreachable', (e as Error).message);
    });
    const raw = new FrameSocket(socket, 'target');
    socket.write(P.buildConnectionRequest({ cookie: t.username.slice(0, 64), requestedProtocols: P.PROTOCOL_SSL | P.PROTOCOL_HYBRID }));
    const confirm = P.parseConnectionConfirm((await raw.next(timeout)).bytes);
    if ('failure' in confirm) throw new TargetError('target-refused', `the target refused TLS and NLA (failure code ${confirm.failure})`);
    raw.detach();
    const secure = tls.connect({ socket, rejectUnauthorized: false, ...(isIP(t.address) === 0 ? { servername: t.address } : {}) });
    this.target = secure;
    secure.on('error', () => {});
    await eventOrFailure(secure, 'secureConnect', timeout).catch((e) => {
      throw new TargetError('target-unreachable', `TLS with the target failed: ${(e as Error).message}`);
    });
    // The target's certificate is its host key: pinned on first use, a change refuses the session (audited by the core).
    // Read once: Node 20 answers getPeerX509Certificate() only the first time it is called on a socket.
    const peerCertificate = secure.getPeerX509Certificate();
    const fingerprint = peerCertificate?.fingerprint256;
    if (!peerCertificate || !fingerprint) throw new TargetError('target-protocol', 'the target showed no certificate');
    if ((await session.checkHostKey(fingerprint)) === 'mismatch') throw new TargetError('host-key-mismatch', 'the target certificate is not the pinned one');
    const { domain: credDomain, user } = splitAccount(t.username, t.domain);
    // A JS string cannot be zeroed: made once, for CredSSP and the ClientInfo; the Buffer is zeroed at close.
    const password = session.secret.toString('utf8');
    if ((confirm.selectedProtocol & P.PROTOCOL_HYBRID) !== 0) {
      try {
        await credsspAuthenticate(secure, { domain: credDomain, user, password }, { timeoutMs: timeout, peerCertificate });
      } catch (e) {
        if (e instanceof CredSspError) throw new TargetError('target-auth-failed', `NLA with the target failed: ${e.message}`);
        throw e;
      }
    }
    const frames = new FrameSocket(secure, 'target');
    secure.write(P.rewriteConnectInitial(initialFrame, { requestedProtocols: confirm.selectedProtocol, clearEarlyFlags: P.RNS_UD_CS_SUPPORT_DYNVC_GFX_PROTOCOL }));
    const response = P.parseConnectResponse((await frames.next(timeout)).bytes);
    if (response.result !== 0) throw new TargetError('target-refused', `the target refused the MCS connection (result ${response.result})`);
    if (response.channelIds.length !== clientDomain.channels.length) throw new TargetError('target-protocol', 'the target granted a different number of channels');
    if ((response.messageChannel === undefined) !== (clientDomain.message === undefined)) throw new TargetError('target-protocol', 'the target answered the message channel request differently');
    secure.write(P.buildErectDomain());
    secure.write(P.buildAttachUserRequest());
    const attach = P.parseDomainPdu((await frames.next(timeout)).bytes);
    if (attach.type !== 'attachUserConfirm' || attach.result !== 0 || attach.initiator === undefined) throw new TargetError('target-refused', 'the target refused Attach User');
    const domain: ClientDomain = { user: attach.initiator, io: response.ioChannel, channels: response.channelIds, message: response.messageChannel };
    for (const id of [domain.user, domain.io, ...domain.channels, ...(domain.message !== undefined ? [domain.message] : [])]) {
      secure.write(P.buildChannelJoinRequest(domain.user, id));
      const joined = P.parseDomainPdu((await frames.next(timeout)).bytes);
      if (joined.type !== 'channelJoinConfirm' || joined.result !== 0) throw new TargetError('target-refused', `the target refused to join channel ${id}`);
    }
    // The vaulted credential goes in; compression goes out (a recording must decode the updates); the GFX
    // pipeline was cleared from the client's core data above for the same reason.
    const rewritten = P.buildClientInfo(P.clientInfoForTarget(info, { domain: credDomain, userName: user, password }));
    const pdu = P.buildSendData('request', domain.user, domain.io, rewritten);
    rewritten.fill(0);
    secure.write(pdu, () => pdu.fill(0));
    return { frames, domain };
  }

  private relay(client: FrameSocket, target: FrameSocket, ours: ClientDomain, theirs: ClientDomain): void {
    const session = this.session!;
    const writer = this.recording!.writer;
    const toTarget = idMap(ours, theirs);
    const toClient = idMap(theirs, ours);
    const identity = toTarget.size === 0;
    const clientSocket = this.client!;
    const targetSocket = this.target!;
    const held = new Map<net.Socket, number>();
    const hold = (s: net.Socket) => {
      held.set(s, (held.get(s) ?? 0) + 1);
      s.pause();
    };
    const release = (s: net.Socket) => {
      const n = (held.get(s) ?? 1) - 1;
      held.set(s, n);
      if (n <= 0) s.resume();
    };
    const send = (to: net.Socket, from: net.Socket, bytes: Buffer) => {
      if (!to.write(bytes)) {
        hold(from);
        to.once('drain', () => release(from));
      }
    };
    client.relay(
      (f) => {
        let bytes = f.bytes;
        this.bytesIn += bytes.length;
        if (f.kind === 'tpkt') {
          const pdu = P.parseDomainPdu(bytes);
          if (pdu.type === 'sendDataRequest' && pdu.channelId === ours.io && P.isConfirmActive(pdu.data)) {
            bytes = P.buildSendData('request', theirs.user, theirs.io, P.rewriteConfirmActive(pdu.data));
          } else if (!identity && pdu.type === 'sendDataRequest') bytes = P.translateSendData(bytes, { initiator: (id) => toTarget.get(id) ?? id, channelId: (id) => toTarget.get(id) ?? id });
        }
        if (!writer.input(f.bytes)) {
          hold(clientSocket);
          writer.onDrain(() => release(clientSocket));
        }
        send(targetSocket, clientSocket, bytes);
        session.progress(this.bytesIn, this.bytesOut);
      },
      (e) => void this.finish(e instanceof StreamClosed ? 'client-disconnected' : 'protocol-error'),
    );
    target.relay(
      (f) => {
        let bytes = f.bytes;
        this.bytesOut += bytes.length;
        if (!identity && f.kind === 'tpkt' && P.parseDomainPdu(bytes).type === 'sendDataIndication') {
          bytes = P.translateSendData(bytes, { initiator: (id) => toClient.get(id) ?? id, channelId: (id) => toClient.get(id) ?? id });
        }
        if (!writer.output(f.bytes)) {
          hold(targetSocket);
          writer.onDrain(() => release(targetSocket));
        }
        send(clientSocket, targetSocket, bytes);
        session.progress(this.bytesIn, this.bytesOut);
      },
      (e) => void this.finish(e instanceof StreamClosed ? 'target-disconnected' : 'protocol-error'),
    );
    writer.onError((e) => {
      log.error('recording failed: ending the session', { session: session.id, error: e.message });
      void this.finish('recording-failed');
    });
  }

  /**
   * Tell the client the connection ends — why, when its MCS domain exists (Set Error Info: FreeRDP exits with
   * the matching code, mstsc shows its message) — then MCS Disconnect Provider Ultimatum, then close.
   */
  private disconnect(errorInfo?: number): void {
    const c = this.client;
    if (c && !c.destroyed) {
      if (errorInfo !== undefined && this.clientIo !== undefined) c.write(P.buildSetErrorInfo(errorInfo, this.clientIo));
      c.end(P.buildDisconnectProviderUltimatum());
    }
    // finish(), which always follows, cuts a client that does not leave.
  }

  /** The daemon is stopping. */
  async shutdown(): Promise<void> {
    this.disconnect();
    await this.finish('proxy-stopped');
  }

  private finish(reason: string): Promise<void> {
    if (this.finished) return this.closing;
    this.finished = true;
    this.closing = (async () => {
      this.target?.destroy();
      if (this.client && !this.client.destroyed) this.client.end();
      setTimeout(() => this.socket.destroy(), 2000).unref();
      const session = this.session;
      if (!session) {
        // Before TLS there is nothing to say; after it, what disconnect() queued leaves before the 2 s cut.
        if (!this.client) this.socket.destroy();
        return;
      }
      // The recording ends before the row: its last chunk is on disk when the session is closed.
      await this.recording?.close().catch((e) => log.error('could not close the recording', { session: session.id, error: (e as Error).message }));
      await session.close({ reason, bytesIn: this.bytesIn, bytesOut: this.bytesOut }).catch((e) => log.error('could not close the session row', { session: session.id, error: (e as Error).message }));
    })();
    return this.closing;
  }
}

/** DOMAIN\user in the credential's user name splits; anything else (user@domain, a UPN, included) goes as it is, with the credential's own domain. */
function splitAccount(username: string, domain: string): { domain: string; user: string } {
  const slash = username.indexOf('\\');
  if (slash > 0) return { domain: username.slice(0, slash), user: username.slice(slash + 1) };
  return { domain, user: username };
}

/** Channel ids that differ between two sides of the same MCS domain (empty when all agree). */
function idMap(from: ClientDomain, to: ClientDomain): Map<number, number> {
  const pairs: [number, number][] = [
    [from.user, to.user],
    [from.io, to.io],
    ...from.channels.map((id, i): [number, number] => [id, to.channels[i]!]),
    ...(from.message !== undefined && to.message !== undefined ? [[from.message, to.message] as [number, number]] : []),
  ];
  return new Map(pairs.filter(([a, b]) => a !== b));
}

function ticketPerson(t: RedeemedRdpTicket): Person {
  return { userId: t.userId, username: t.username, deviceId: t.deviceId, credentialId: t.credentialId, authentication: t.authentication, ...(t.reason ? { reason: t.reason } : {}) };
}

/** Resolves on `event` ('connect', 'secure', 'secureConnect'); rejects on an error, a close or the timeout. */
function eventOrFailure(socket: net.Socket, event: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    const ok = () => done();
    const bad = (e: Error) => done(e);
    const closed = () => done(new StreamClosed('peer'));
    function done(e?: Error) {
      clearTimeout(timer);
      socket.off(event, ok);
      socket.off('error', bad);
      socket.off('close', closed);
      if (e) reject(e);
      else resolve();
    }
    socket.once(event, ok);
    socket.once('error', bad);
    socket.once('close', closed);
  });
}
