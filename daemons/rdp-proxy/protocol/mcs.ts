// T.125 MCS as RDP uses it: Connect-Initial / Connect-Response in BER around the GCC data (MS-RDPBCGR 2.2.1.3,
// 2.2.1.4), and the PER-encoded domain PDUs of the channel connection and the data phase (2.2.1.5-2.2.1.9,
// 2.2.2.3, Send Data Request/Indication). User and channel ids are given as on the wire's meaning (1001 and up
// for users); the PER offset of 1001 is handled here.
import * as ber from './ber.js';
import { ByteReader, ByteWriter, checkRange } from './bytes.js';
import { check, RdpProtocolError } from './errors.js';
import {
  type ClientDataBlocks,
  type ClientDataOptions,
  parseClientDataBlocks,
  parseServerDataBlocks,
  readConferenceCreateRequest,
  readConferenceCreateResponse,
  type ServerDataBlocks,
  writeClientDataBlocks,
  writeConferenceCreateRequest,
  writeConferenceCreateResponse,
  writeServerDataBlocks,
} from './gcc.js';
import * as per from './per.js';
import { wrapX224Data, x224DataPayload } from './x224.js';

/** MCS user ids are PER-encoded as an offset from this (T.125 UserId ::= DynamicChannelId (1001..65535)). */
export const MCS_BASE_CHANNEL_ID = 1001;
/** The I/O channel id servers conventionally assign. */
export const MCS_GLOBAL_CHANNEL_ID = 1003;

/** DomainMCSPDU choices (T.125 §7 part 10). */
export const DOMAIN_ERECT_DOMAIN_REQUEST = 1;
export const DOMAIN_DISCONNECT_PROVIDER_ULTIMATUM = 8;
export const DOMAIN_ATTACH_USER_REQUEST = 10;
export const DOMAIN_ATTACH_USER_CONFIRM = 11;
export const DOMAIN_CHANNEL_JOIN_REQUEST = 14;
export const DOMAIN_CHANNEL_JOIN_CONFIRM = 15;
export const DOMAIN_SEND_DATA_REQUEST = 25;
export const DOMAIN_SEND_DATA_INDICATION = 26;

/** MCS Result (T.125): rt-successful 0 ... rt-unspecified-failure 14. */
export const RT_SUCCESSFUL = 0;
export const RT_UNSPECIFIED_FAILURE = 14;
/** DisconnectProviderUltimatum reasons. */
export const RN_DOMAIN_DISCONNECTED = 0;
export const RN_PROVIDER_INITIATED = 1;
export const RN_TOKEN_PURGED = 2;
export const RN_USER_REQUESTED = 3;
export const RN_CHANNEL_PURGED = 4;

export interface DomainParameters {
  maxChannelIds: number;
  maxUserIds: number;
  maxTokenIds: number;
  numPriorities: number;
  minThroughput: number;
  maxHeight: number;
  maxMCSPDUsize: number;
  protocolVersion: number;
}

export interface ConnectInitial extends ClientDataBlocks {
  calledDomainSelector: Buffer;
  callingDomainSelector: Buffer;
  upwardFlag: boolean;
  targetParameters: DomainParameters;
  minimumParameters: DomainParameters;
  maximumParameters: DomainParameters;
}

export interface ConnectResponse {
  result: number;
  calledConnectId: number;
  domainParameters?: DomainParameters;
  ioChannel: number;
  channelIds: number[];
  messageChannel?: number;
  serverCore: { version: number; requestedProtocols?: number; earlyCapabilityFlags?: number };
  security?: ServerDataBlocks['security'];
  multitransportFlags?: number;
}

const DOMAIN_PARAMETER_NAMES = ['maxChannelIds', 'maxUserIds', 'maxTokenIds', 'numPriorities', 'minThroughput', 'maxHeight', 'maxMCSPDUsize', 'protocolVersion'] as const;

function readDomainParameters(r: ByteReader, field: string): DomainParameters {
  const len = ber.readHeader(r, ber.TAG_SEQUENCE, field);
  const s = r.sub(len, field);
  const out = {} as DomainParameters;
  for (const name of DOMAIN_PARAMETER_NAMES) out[name] = ber.readInteger(s, `${field}.${name}`);
  s.done();
  return out;
}

function writeDomainParameters(w: ByteWriter, p: DomainParameters): void {
  const s = new ByteWriter();
  for (const name of DOMAIN_PARAMETER_NAMES) ber.writeInteger(s, p[name]);
  ber.writeConstructed(w, ber.TAG_SEQUENCE, s.toBuffer());
}

/** A reader over the frame positioned at the MCS bytes, so offsets it reports are offsets in the frame. */
function mcsReader(frame: Buffer, what: string): ByteReader {
  const payload = x224DataPayload(frame);
  return new ByteReader(frame, what, frame.length - payload.length);
}

export function parseConnectInitial(frame: Buffer): ConnectInitial {
  const r = mcsReader(frame, 'MCS Connect-Initial');
  const len = ber.readApplicationTag(r, ber.APP_CONNECT_INITIAL, 'Connect-Initial');
  check(len === r.remaining, `MCS Connect-Initial: length ${len} but ${r.remaining} bytes follow`);
  const calledDomainSelector = Buffer.from(ber.readOctetString(r, 'calledDomainSelector'));
  const callingDomainSelector = Buffer.from(ber.readOctetString(r, 'callingDomainSelector'));
  const upwardFlag = ber.readBoolean(r, 'upwardFlag');
  const targetParameters = readDomainParameters(r, 'targetParameters');
  const minimumParameters = readDomainParameters(r, 'minimumParameters');
  const maximumParameters = readDomainParameters(r, 'maximumParameters');
  const udLen = ber.readHeader(r, ber.TAG_OCTET_STRING, 'userData');
  const userData = r.sub(udLen, 'GCC Conference Create Request');
  r.done();
  const blocks = readConferenceCreateRequest(userData);
  return { calledDomainSelector, callingDomainSelector, upwardFlag, targetParameters, minimumParameters, maximumParameters, ...parseClientDataBlocks(blocks) };
}

/**
 * A copy of the Connect-Initial with the client core data changed in place (same size): the protocol the target
 * selected written into serverSelectedProtocol, and `clearEarlyFlags` cleared in earlyCapabilityFlags.
 */
export function rewriteConnectInitial(frame: Buffer, c: { requestedProtocols?: number; clearEarlyFlags?: number }): Buffer {
  const ci = parseConnectInitial(frame);
  const out = Buffer.from(frame);
  if (c.requestedProtocols !== undefined) {
    checkRange(c.requestedProtocols, 0, 0xffffffff, 'requestedProtocols');
    const at = ci.core.offsets.clientRequestedProtocols;
    // Adding the field would change every enclosing length; a client too old to send it cannot be proxied to NLA.
    if (at === undefined) throw new RdpProtocolError('MCS Connect-Initial: client core data has no serverSelectedProtocol field to rewrite');
    out.writeUInt32LE(c.requestedProtocols, at);
  }
  if (c.clearEarlyFlags !== undefined && ci.core.offsets.earlyCapabilityFlags !== undefined) {
    checkRange(c.clearEarlyFlags, 0, 0xffff, 'clearEarlyFlags');
    const at = ci.core.offsets.earlyCapabilityFlags;
    out.writeUInt16LE(out.readUInt16LE(at) & ~c.clearEarlyFlags & 0xffff, at);
  }
  return out;
}

/** The domain parameters RDP clients ask for as their target (3.2.5.3.3). */
export const CLIENT_TARGET_PARAMETERS: DomainParameters = { maxChannelIds: 34, maxUserIds: 2, maxTokenIds: 0, numPriorities: 1, minThroughput: 0, maxHeight: 1, maxMCSPDUsize: 65535, protocolVersion: 2 };
const CLIENT_MINIMUM_PARAMETERS: DomainParameters = { maxChannelIds: 1, maxUserIds: 1, maxTokenIds: 1, numPriorities: 1, minThroughput: 0, maxHeight: 1, maxMCSPDUsize: 1056, protocolVersion: 2 };
const CLIENT_MAXIMUM_PARAMETERS: DomainParameters = { maxChannelIds: 65535, maxUserIds: 64535, maxTokenIds: 65535, numPriorities: 1, minThroughput: 0, maxHeight: 1, maxMCSPDUsize: 65535, protocolVersion: 2 };
/** The merged parameters a server answers with (what Windows sends: 34 channels, 3 users, PDUs up to 65528). */
export const SERVER_DOMAIN_PARAMETERS: DomainParameters = { maxChannelIds: 34, maxUserIds: 3, maxTokenIds: 0, numPriorities: 1, minThroughput: 0, maxHeight: 1, maxMCSPDUsize: 65528, protocolVersion: 2 };

/** A Connect-Initial as an RDP client sends it; tests and tools use it, the relay forwards the client's own. */
export function buildConnectInitial(o: ClientDataOptions): Buffer {
  const gcc = writeConferenceCreateRequest(writeClientDataBlocks(o));
  const w = new ByteWriter();
  ber.writeOctetString(w, Buffer.of(1));
  ber.writeOctetString(w, Buffer.of(1));
  ber.writeBoolean(w, true);
  writeDomainParameters(w, CLIENT_TARGET_PARAMETERS);
  writeDomainParameters(w, CLIENT_MINIMUM_PARAMETERS);
  writeDomainParameters(w, CLIENT_MAXIMUM_PARAMETERS);
  ber.writeOctetString(w, gcc);
  return wrapX224Data(ber.writeApplication(new ByteWriter(), ber.APP_CONNECT_INITIAL, w.toBuffer()).toBuffer());
}

/** SC_CORE, SC_SECURITY (none: TLS), SC_NET, and SC_MCS_MSGCHANNEL when messageChannel is given. */
export function buildConnectResponse(o: {
  requestedProtocols: number;
  ioChannel: number;
  channelIds: number[];
  messageChannel?: number;
  earlyCapabilityFlags?: number;
  version?: number;
  result?: number;
}): Buffer {
  const gcc = writeConferenceCreateResponse(writeServerDataBlocks(o));
  const w = new ByteWriter();
  ber.writeEnumerated(w, o.result ?? RT_SUCCESSFUL);
  ber.writeInteger(w, 0);
  writeDomainParameters(w, SERVER_DOMAIN_PARAMETERS);
  ber.writeOctetString(w, gcc);
  return wrapX224Data(ber.writeApplication(new ByteWriter(), ber.APP_CONNECT_RESPONSE, w.toBuffer()).toBuffer());
}

export function parseConnectResponse(frame: Buffer): ConnectResponse {
  const r = mcsReader(frame, 'MCS Connect-Response');
  const len = ber.readApplicationTag(r, ber.APP_CONNECT_RESPONSE, 'Connect-Response');
  check(len === r.remaining, `MCS Connect-Response: length ${len} but ${r.remaining} bytes follow`);
  const result = ber.readEnumerated(r, 'result');
  // A refusing server may send the result alone (3.3.5.3.3.1).
  if (r.remaining === 0 && result !== RT_SUCCESSFUL) return { result, calledConnectId: 0, ioChannel: 0, channelIds: [], serverCore: { version: 0 } };
  const calledConnectId = ber.readInteger(r, 'calledConnectId');
  const domainParameters = readDomainParameters(r, 'domainParameters');
  const udLen = ber.readHeader(r, ber.TAG_OCTET_STRING, 'userData');
  const userData = r.sub(udLen, 'GCC Conference Create Response');
  r.done();
  const gcc = readConferenceCreateResponse(userData);
  const blocks = parseServerDataBlocks(gcc.blocks);
  const out: ConnectResponse = {
    result,
    calledConnectId,
    domainParameters,
    ioChannel: blocks.ioChannel,
    channelIds: blocks.channelIds,
    serverCore: blocks.serverCore,
  };
  if (blocks.messageChannel !== undefined) out.messageChannel = blocks.messageChannel;
  if (blocks.security) out.security = blocks.security;
  if (blocks.multitransportFlags !== undefined) out.multitransportFlags = blocks.multitransportFlags;
  return out;
}

// ---- domain PDUs (PER)

export type DomainPdu =
  | { type: 'erectDomain'; subHeight: number; subInterval: number }
  | { type: 'attachUserRequest' }
  | { type: 'attachUserConfirm'; result: number; initiator?: number }
  | { type: 'channelJoinRequest'; initiator: number; channelId: number }
  | { type: 'channelJoinConfirm'; result: number; initiator: number; requested: number; channelId?: number }
  | { type: 'sendDataRequest' | 'sendDataIndication'; initiator: number; channelId: number; priority: number; segmentation: number; data: Buffer }
  | { type: 'disconnectProviderUltimatum'; reason: number };

/** Offset in a frame of the MCS bytes behind TPKT (4) and X.224 DT (3). */
const MCS_AT = 7;

export function parseDomainPdu(frame: Buffer): DomainPdu {
  const r = mcsReader(frame, 'MCS domain PDU');
  const b0 = r.u8('DomainMCSPDU choice');
  const choice = b0 >> 2;
  switch (choice) {
    case DOMAIN_ERECT_DOMAIN_REQUEST: {
      const subHeight = per.readInteger(r, 'subHeight');
      const subInterval = per.readInteger(r, 'subInterval');
      r.done();
      return { type: 'erectDomain', subHeight, subInterval };
    }
    case DOMAIN_ATTACH_USER_REQUEST:
      r.done();
      return { type: 'attachUserRequest' };
    case DOMAIN_ATTACH_USER_CONFIRM: {
      // 6 bits choice, 1 bit "initiator present", then the 4-bit Result straddling the byte boundary.
      const result = ((b0 & 1) << 3) | (r.u8('result') >> 5);
      if ((b0 & 2) === 0) {
        r.done();
        return { type: 'attachUserConfirm', result };
      }
      const initiator = per.readInteger16(r, MCS_BASE_CHANNEL_ID, 'initiator');
      r.done();
      return { type: 'attachUserConfirm', result, initiator };
    }
    case DOMAIN_CHANNEL_JOIN_REQUEST: {
      const initiator = per.readInteger16(r, MCS_BASE_CHANNEL_ID, 'initiator');
      const channelId = r.u16be('channelId');
      r.done();
      return { type: 'channelJoinRequest', initiator, channelId };
    }
    case DOMAIN_CHANNEL_JOIN_CONFIRM: {
      const result = ((b0 & 1) << 3) | (r.u8('result') >> 5);
      const initiator = per.readInteger16(r, MCS_BASE_CHANNEL_ID, 'initiator');
      const requested = r.u16be('requested');
      if ((b0 & 2) === 0) {
        r.done();
        return { type: 'channelJoinConfirm', result, initiator, requested };
      }
      const channelId = r.u16be('channelId');
      r.done();
      return { type: 'channelJoinConfirm', result, initiator, requested, channelId };
    }
    case DOMAIN_SEND_DATA_REQUEST:
    case DOMAIN_SEND_DATA_INDICATION: {
      const initiator = per.readInteger16(r, MCS_BASE_CHANNEL_ID, 'initiator');
      const channelId = r.u16be('channelId');
      const flags = r.u8('dataPriority and segmentation');
      const len = per.readLength(r, 'userData');
      if (len !== r.remaining) throw new RdpProtocolError(`MCS Send Data: userData length ${len} but ${r.remaining} bytes follow`);
      const data = r.bytes(len, 'userData');
      return {
        type: choice === DOMAIN_SEND_DATA_REQUEST ? 'sendDataRequest' : 'sendDataIndication',
        initiator,
        channelId,
        priority: flags >> 6,
        segmentation: (flags >> 4) & 3,
        data,
      };
    }
    case DOMAIN_DISCONNECT_PROVIDER_ULTIMATUM: {
      // A 3-bit Reason after the 6-bit choice, straddling the byte boundary.
      const reason = ((b0 & 3) << 1) | (r.u8('reason') >> 7);
      r.done();
      return { type: 'disconnectProviderUltimatum', reason };
    }
    default:
      throw new RdpProtocolError(`MCS domain PDU: choice ${choice} is not one RDP uses here`);
  }
}

function domain(bytes: ByteWriter): Buffer {
  return wrapX224Data(bytes.toBuffer());
}

export function buildErectDomain(): Buffer {
  const w = new ByteWriter().u8(DOMAIN_ERECT_DOMAIN_REQUEST << 2);
  per.writeInteger(w, 0);
  per.writeInteger(w, 0);
  return domain(w);
}

export function buildAttachUserRequest(): Buffer {
  return domain(new ByteWriter().u8(DOMAIN_ATTACH_USER_REQUEST << 2));
}

export function buildAttachUserConfirm(result: number, initiator: number): Buffer {
  checkRange(result, 0, 15, 'MCS result');
  const w = new ByteWriter().u8((DOMAIN_ATTACH_USER_CONFIRM << 2) | 2 | (result >> 3)).u8((result & 7) << 5);
  per.writeInteger16(w, initiator, MCS_BASE_CHANNEL_ID);
  return domain(w);
}

export function buildChannelJoinRequest(initiator: number, channelId: number): Buffer {
  checkRange(channelId, 0, 0xffff, 'channelId');
  const w = new ByteWriter().u8(DOMAIN_CHANNEL_JOIN_REQUEST << 2);
  per.writeInteger16(w, initiator, MCS_BASE_CHANNEL_ID);
  return domain(w.u16be(channelId));
}

/** A confirm for `channelId`; on success the joined channel is the requested one. */
export function buildChannelJoinConfirm(initiator: number, channelId: number, result = RT_SUCCESSFUL): Buffer {
  checkRange(result, 0, 15, 'MCS result');
  checkRange(channelId, 0, 0xffff, 'channelId');
  const w = new ByteWriter().u8((DOMAIN_CHANNEL_JOIN_CONFIRM << 2) | 2 | (result >> 3)).u8((result & 7) << 5);
  per.writeInteger16(w, initiator, MCS_BASE_CHANNEL_ID);
  return domain(w.u16be(channelId).u16be(channelId));
}

export function buildDisconnectProviderUltimatum(reason = RN_USER_REQUESTED): Buffer {
  checkRange(reason, 0, 4, 'disconnect reason');
  return domain(new ByteWriter().u8((DOMAIN_DISCONNECT_PROVIDER_ULTIMATUM << 2) | (reason >> 1)).u8((reason & 1) << 7));
}

/** Send Data with high priority and begin|end segmentation (0x70), as every RDP peer sends it. */
export function buildSendData(kind: 'request' | 'indication', initiator: number, channelId: number, data: Buffer): Buffer {
  checkRange(channelId, 0, 0xffff, 'channelId');
  const choice = kind === 'request' ? DOMAIN_SEND_DATA_REQUEST : DOMAIN_SEND_DATA_INDICATION;
  const w = new ByteWriter().u8(choice << 2);
  per.writeInteger16(w, initiator, MCS_BASE_CHANNEL_ID);
  w.u16be(channelId).u8(0x70);
  per.writeLength(w, data.length);
  return domain(w.bytes(data));
}

/**
 * The same Send Data PDU with its initiator and/or channel id mapped (same size: both are 2-byte fields). Returns
 * the frame itself when nothing changes, else a copy. Throws for any other PDU.
 */
export function translateSendData(frame: Buffer, map: { initiator?: (id: number) => number; channelId?: (id: number) => number }): Buffer {
  const pdu = parseDomainPdu(frame);
  if (pdu.type !== 'sendDataRequest' && pdu.type !== 'sendDataIndication') throw new RdpProtocolError(`MCS: expected Send Data, found ${pdu.type}`);
  const initiator = map.initiator ? map.initiator(pdu.initiator) : pdu.initiator;
  const channelId = map.channelId ? map.channelId(pdu.channelId) : pdu.channelId;
  if (initiator === pdu.initiator && channelId === pdu.channelId) return frame;
  checkRange(initiator, MCS_BASE_CHANNEL_ID, MCS_BASE_CHANNEL_ID + 0xffff, 'translated initiator');
  checkRange(channelId, 0, 0xffff, 'translated channelId');
  const out = Buffer.from(frame);
  out.writeUInt16BE(initiator - MCS_BASE_CHANNEL_ID, MCS_AT + 1);
  out.writeUInt16BE(channelId, MCS_AT + 3);
  return out;
}
