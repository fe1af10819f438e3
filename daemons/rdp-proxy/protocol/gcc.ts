// T.124 GCC Conference Create Request/Response as RDP wraps them in the MCS connect PDUs' userData (T.124 §8.7,
// PER per MS-RDPBCGR 2.2.1.3 / 2.2.1.4), and the client/server data blocks inside them (2.2.1.3.x, 2.2.1.4.x).
// Readers take a ByteReader over the whole frame, so the offsets they report are offsets in the frame and a
// rewrite can patch fields in place.
import { ByteReader, ByteWriter, checkRange } from './bytes.js';
import { check, RdpProtocolError } from './errors.js';
import * as per from './per.js';

/** T.124's object identifier {0 0 20 124 0 1}, PER-encoded. */
export const T124_OID = Buffer.from([0x00, 0x14, 0x7c, 0x00, 0x01]);
export const H221_CLIENT_KEY = Buffer.from('Duca', 'latin1');
export const H221_SERVER_KEY = Buffer.from('McDn', 'latin1');

export const CS_CORE = 0xc001;
export const CS_SECURITY = 0xc002;
export const CS_NET = 0xc003;
export const CS_CLUSTER = 0xc004;
export const CS_MONITOR = 0xc005;
export const CS_MCS_MSGCHANNEL = 0xc006;
export const CS_MONITOR_EX = 0xc008;
export const CS_MULTITRANSPORT = 0xc00a;
export const SC_CORE = 0x0c01;
export const SC_SECURITY = 0x0c02;
export const SC_NET = 0x0c03;
export const SC_MCS_MSGCHANNEL = 0x0c04;
export const SC_MULTITRANSPORT = 0x0c08;

/** Client core earlyCapabilityFlags (2.2.1.3.2). */
export const RNS_UD_CS_SUPPORT_ERRINFO_PDU = 0x0001;
export const RNS_UD_CS_WANT_32BPP_SESSION = 0x0002;
export const RNS_UD_CS_SUPPORT_STATUSINFO_PDU = 0x0004;
export const RNS_UD_CS_STRONG_ASYMMETRIC_KEYS = 0x0008;
export const RNS_UD_CS_VALID_CONNECTION_TYPE = 0x0020;
export const RNS_UD_CS_SUPPORT_MONITOR_LAYOUT_PDU = 0x0040;
export const RNS_UD_CS_SUPPORT_NETCHAR_AUTODETECT = 0x0080;
export const RNS_UD_CS_SUPPORT_DYNVC_GFX_PROTOCOL = 0x0100;
export const RNS_UD_CS_SUPPORT_DYNAMIC_TIME_ZONE = 0x0200;
export const RNS_UD_CS_SUPPORT_HEARTBEAT_PDU = 0x0400;
/** With the server's RNS_UD_SC_SKIP_CHANNELJOIN_SUPPORTED the client skips Channel Join Requests altogether. */
export const RNS_UD_CS_SUPPORT_SKIP_CHANNELJOIN = 0x0800;
/** Server core earlyCapabilityFlags (2.2.1.4.2). */
export const RNS_UD_SC_EDGE_ACTIONS_SUPPORTED_V1 = 0x1;
export const RNS_UD_SC_DYNAMIC_DST_SUPPORTED = 0x2;
export const RNS_UD_SC_EDGE_ACTIONS_SUPPORTED_V2 = 0x4;
export const RNS_UD_SC_SKIP_CHANNELJOIN_SUPPORTED = 0x8;

/** RDP 5.0+ core data version; what the design's fabricated SC_CORE announces. */
export const RDP_VERSION_5_PLUS = 0x00080004;
/** CHANNEL_MAX_COUNT (2.2.1.3.4). */
export const MAX_STATIC_CHANNELS = 31;

export interface ClientCore {
  version: number;
  desktopWidth: number;
  desktopHeight: number;
  colorDepth: number;
  keyboardLayout: number;
  clientBuild: number;
  clientName: string;
  postBeta2ColorDepth?: number;
  highColorDepth?: number;
  supportedColorDepths?: number;
  earlyCapabilityFlags?: number;
  connectionType?: number;
  /** MS-RDPBCGR's serverSelectedProtocol: the protocol the client was told in the X.224 Connection Confirm. */
  clientRequestedProtocols?: number;
  /** Offsets in the frame, so a rewrite keeps the size: the block's header, and the optional fields present. */
  offsets: { block: number; earlyCapabilityFlags?: number; clientRequestedProtocols?: number };
}

export interface ClientChannel {
  /** Up to 7 ASCII characters (the 8th byte is the terminator). */
  name: string;
  options: number;
}

export interface DataBlock {
  type: number;
  /** Offset of the block's header in the frame. */
  offset: number;
  length: number;
}

export interface ClientDataBlocks {
  core: ClientCore;
  security?: { encryptionMethods: number; extEncryptionMethods: number };
  channels: ClientChannel[];
  hasMessageChannel: boolean;
  cluster?: { flags: number; redirectedSessionId: number };
  multitransportFlags?: number;
  /** Every block, known or not, in the order sent. */
  blocks: DataBlock[];
}

export interface ServerDataBlocks {
  serverCore: { version: number; requestedProtocols?: number; earlyCapabilityFlags?: number };
  security?: { encryptionMethod: number; encryptionLevel: number };
  ioChannel: number;
  channelIds: number[];
  messageChannel?: number;
  multitransportFlags?: number;
  blocks: DataBlock[];
}

/** Reads the connect PDU header common to request and response: T.124 identifier, then the connectPDU length. */
function readConnectData(r: ByteReader): ByteReader {
  const key = r.u8('t124Identifier choice');
  check(key === 0, `${r.what}: t124Identifier choice ${key}, expected an object identifier`);
  per.readObjectIdentifier(r, T124_OID, 't124Identifier');
  // The connectPDU length is not checked: FreeRDP servers write a constant 0x2a there whatever follows; the user
  // data length inside is the one every peer gets right.
  per.readLength(r, 'connectPDU');
  return r.sub(r.remaining, r.what);
}

/** The user data set: one h221NonStandard entry with the given key; returns a reader over the data blocks. */
function readUserData(r: ByteReader, key: Buffer): ByteReader {
  const sets = r.u8('userData number of sets');
  check(sets === 1, `${r.what}: ${sets} user data sets, RDP sends one`);
  const choice = r.u8('userData key choice');
  check(choice === 0xc0, `${r.what}: user data key choice 0x${choice.toString(16)}, expected h221NonStandard`);
  const k = per.readOctetString(r, 4, 'h221NonStandard key');
  check(k.equals(key), `${r.what}: h221NonStandard key is not '${key.toString('latin1')}'`);
  const len = per.readLength(r, 'user data');
  check(len === r.remaining, `${r.what}: user data length ${len} but ${r.remaining} bytes follow`);
  return r.sub(len, `${r.what} data blocks`);
}

/** GCC Conference Create Request (inside Connect-Initial's userData); returns a reader over the client data blocks. */
export function readConferenceCreateRequest(r: ByteReader): ByteReader {
  const c = readConnectData(r);
  const choice = c.u8('ConnectGCCPDU choice');
  check(choice === 0, `${c.what}: ConnectGCCPDU choice ${choice}, expected conferenceCreateRequest`);
  const selection = c.u8('optional fields');
  // Only userData present: RDP clients never send conference passwords or privileges (3.2.5.3.3).
  check(selection === 0x08, `${c.what}: optional field selection 0x${selection.toString(16)} not supported`);
  per.readNumericString(c, 1, 'conferenceName');
  c.u8('conference flags and terminationMethod');
  return readUserData(c, H221_CLIENT_KEY);
}

/** GCC Conference Create Response; returns the result and a reader over the server data blocks. */
export function readConferenceCreateResponse(r: ByteReader): { result: number; nodeId: number; blocks: ByteReader } {
  const c = readConnectData(r);
  const choice = c.u8('ConnectGCCPDU choice');
  check(choice === 0x14, `${c.what}: ConnectGCCPDU choice 0x${choice.toString(16)}, expected conferenceCreateResponse`);
  const nodeId = per.readInteger16(c, 1001, 'nodeID');
  per.readInteger(c, 'tag');
  const result = c.u8('result');
  return { result, nodeId, blocks: readUserData(c, H221_SERVER_KEY) };
}

function writeConnectData(pdu: Buffer): Buffer {
  const w = new ByteWriter().u8(0);
  per.writeObjectIdentifier(w, T124_OID);
  per.writeLength(w, pdu.length);
  return w.bytes(pdu).toBuffer();
}

function writeUserData(w: ByteWriter, key: Buffer, blocks: Buffer): void {
  w.u8(1).u8(0xc0);
  per.writeOctetString(w, key, 4);
  per.writeLength(w, blocks.length);
  w.bytes(blocks);
}

export function writeConferenceCreateRequest(blocks: Buffer): Buffer {
  const w = new ByteWriter().u8(0).u8(0x08);
  per.writeNumericString(w, '1', 1);
  w.u8(0);
  writeUserData(w, H221_CLIENT_KEY, blocks);
  return writeConnectData(w.toBuffer());
}

export function writeConferenceCreateResponse(blocks: Buffer): Buffer {
  const w = new ByteWriter().u8(0x14);
  // nodeID 0x79f3 and tag 1 are what Windows and FreeRDP servers send; clients ignore both.
  per.writeInteger16(w, 0x79f3, 1001);
  per.writeInteger(w, 1);
  w.u8(0);
  writeUserData(w, H221_SERVER_KEY, blocks);
  return writeConnectData(w.toBuffer());
}

/** Splits data blocks by their headers (type u16, length u16 counting the header); each must fit. */
function readBlocks(r: ByteReader): { type: number; offset: number; body: ByteReader }[] {
  const out: { type: number; offset: number; body: ByteReader }[] = [];
  while (r.remaining > 0) {
    const offset = r.offset;
    const type = r.u16le('data block type');
    const length = r.u16le('data block length');
    check(length >= 4, `${r.what}: data block 0x${type.toString(16)} has length ${length}`);
    out.push({ type, offset, body: r.sub(length - 4, `data block 0x${type.toString(16)}`) });
  }
  return out;
}

function utf16z(b: Buffer): string {
  const s = b.toString('utf16le');
  const nul = s.indexOf('\0');
  return nul >= 0 ? s.slice(0, nul) : s;
}

function readClientCore(b: ByteReader, offset: number): ClientCore {
  const core: ClientCore = {
    version: b.u32le('version'),
    desktopWidth: b.u16le('desktopWidth'),
    desktopHeight: b.u16le('desktopHeight'),
    colorDepth: b.u16le('colorDepth'),
    keyboardLayout: 0,
    clientBuild: 0,
    clientName: '',
    offsets: { block: offset },
  };
  b.u16le('SASSequence');
  core.keyboardLayout = b.u32le('keyboardLayout');
  core.clientBuild = b.u32le('clientBuild');
  core.clientName = utf16z(b.bytes(32, 'clientName'));
  b.skip(12, 'keyboardType, keyboardSubType, keyboardFunctionKey');
  b.skip(64, 'imeFileName');
  check(core.desktopWidth > 0 && core.desktopWidth <= 0x7ffe, `client core data: desktopWidth ${core.desktopWidth}`);
  check(core.desktopHeight > 0 && core.desktopHeight <= 0x7ffe, `client core data: desktopHeight ${core.desktopHeight}`);
  // Each optional field is present only if every one before it is (2.2.1.3.2); a partial field at the end is ignored.
  if (b.remaining < 2) return core;
  core.postBeta2ColorDepth = b.u16le('postBeta2ColorDepth');
  if (b.remaining < 2) return core;
  b.u16le('clientProductId');
  if (b.remaining < 4) return core;
  b.u32le('serialNumber');
  if (b.remaining < 2) return core;
  core.highColorDepth = b.u16le('highColorDepth');
  if (b.remaining < 2) return core;
  core.supportedColorDepths = b.u16le('supportedColorDepths');
  if (b.remaining < 2) return core;
  core.offsets.earlyCapabilityFlags = b.offset;
  core.earlyCapabilityFlags = b.u16le('earlyCapabilityFlags');
  if (b.remaining < 64) return core;
  b.skip(64, 'clientDigProductId');
  if (b.remaining < 1) return core;
  core.connectionType = b.u8('connectionType');
  if (b.remaining < 1) return core;
  b.u8('pad1octet');
  if (b.remaining < 4) return core;
  core.offsets.clientRequestedProtocols = b.offset;
  core.clientRequestedProtocols = b.u32le('serverSelectedProtocol');
  return core;
}

function latin1z(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul >= 0 ? nul : b.length).toString('latin1');
}

export function parseClientDataBlocks(r: ByteReader): ClientDataBlocks {
  let core: ClientCore | undefined;
  const out: Omit<ClientDataBlocks, 'core'> = { channels: [], hasMessageChannel: false, blocks: [] };
  const seen = new Set<number>();
  for (const { type, offset, body } of readBlocks(r)) {
    out.blocks.push({ type, offset, length: body.limit - offset });
    check(!seen.has(type), `client data: block 0x${type.toString(16)} sent twice`);
    seen.add(type);
    switch (type) {
      case CS_CORE:
        core = readClientCore(body, offset);
        break;
      case CS_SECURITY:
        out.security = { encryptionMethods: body.u32le('encryptionMethods'), extEncryptionMethods: body.u32le('extEncryptionMethods') };
        break;
      case CS_NET: {
        const count = body.u32le('channelCount');
        check(count <= MAX_STATIC_CHANNELS, `client network data: ${count} channels, at most ${MAX_STATIC_CHANNELS}`);
        for (let i = 0; i < count; i++) {
          const rawName = body.bytes(8, 'channel name');
          const name = latin1z(rawName);
          check(rawName.indexOf(0) >= 0 && /^[\x21-\x7e]+$/.test(name), 'client network data: a channel name is not 1-7 printable ASCII characters');
          out.channels.push({ name, options: body.u32le('channel options') });
        }
        break;
      }
      case CS_CLUSTER:
        out.cluster = { flags: body.u32le('cluster flags'), redirectedSessionId: body.u32le('redirectedSessionID') };
        break;
      case CS_MCS_MSGCHANNEL:
        body.u32le('message channel flags');
        out.hasMessageChannel = true;
        break;
      case CS_MULTITRANSPORT:
        out.multitransportFlags = body.u32le('multitransport flags');
        break;
      default:
        // Monitor layouts and anything newer pass through as they are.
        break;
    }
  }
  if (!core) throw new RdpProtocolError('client data: no core data block');
  return { core, ...out };
}

export function parseServerDataBlocks(r: ByteReader): ServerDataBlocks {
  let serverCore: ServerDataBlocks['serverCore'] | undefined;
  let net: { ioChannel: number; channelIds: number[] } | undefined;
  const out: Omit<ServerDataBlocks, 'serverCore' | 'ioChannel' | 'channelIds'> = { blocks: [] };
  for (const { type, offset, body } of readBlocks(r)) {
    out.blocks.push({ type, offset, length: body.limit - offset });
    switch (type) {
      case SC_CORE:
        serverCore = { version: body.u32le('version') };
        if (body.remaining >= 4) serverCore.requestedProtocols = body.u32le('clientRequestedProtocols');
        if (body.remaining >= 4) serverCore.earlyCapabilityFlags = body.u32le('earlyCapabilityFlags');
        break;
      case SC_SECURITY:
        // Under TLS both are 0 and nothing follows; standard RDP security's random and certificate are not read.
        out.security = { encryptionMethod: body.u32le('encryptionMethod'), encryptionLevel: body.u32le('encryptionLevel') };
        break;
      case SC_NET: {
        const ioChannel = body.u16le('MCSChannelId');
        const count = body.u16le('channelCount');
        check(count <= MAX_STATIC_CHANNELS, `server network data: ${count} channels, at most ${MAX_STATIC_CHANNELS}`);
        const channelIds: number[] = [];
        for (let i = 0; i < count; i++) channelIds.push(body.u16le('channel id'));
        net = { ioChannel, channelIds };
        break;
      }
      case SC_MCS_MSGCHANNEL:
        out.messageChannel = body.u16le('MCSChannelID');
        break;
      case SC_MULTITRANSPORT:
        out.multitransportFlags = body.u32le('multitransport flags');
        break;
      default:
        break;
    }
  }
  if (!serverCore) throw new RdpProtocolError('server data: no core data block');
  if (!net) throw new RdpProtocolError('server data: no network data block');
  return { serverCore, ...net, ...out };
}

function block(type: number, body: Buffer): Buffer {
  return new ByteWriter().u16le(type).u16le(body.length + 4).bytes(body).toBuffer();
}

export function writeServerDataBlocks(o: {
  version?: number;
  requestedProtocols: number;
  earlyCapabilityFlags?: number;
  ioChannel: number;
  channelIds: number[];
  messageChannel?: number;
}): Buffer {
  checkRange(o.requestedProtocols, 0, 0xffffffff, 'clientRequestedProtocols');
  checkRange(o.ioChannel, 0, 0xffff, 'I/O channel');
  if (o.channelIds.length > MAX_STATIC_CHANNELS) throw new RdpProtocolError(`server network data: ${o.channelIds.length} channels`);
  const core = new ByteWriter()
    .u32le(o.version ?? RDP_VERSION_5_PLUS)
    .u32le(o.requestedProtocols)
    .u32le(o.earlyCapabilityFlags ?? 0)
    .toBuffer();
  // Encryption method and level 0: the External Security Protocol (TLS) protects the connection.
  const security = new ByteWriter().u32le(0).u32le(0).toBuffer();
  const net = new ByteWriter().u16le(o.ioChannel).u16le(o.channelIds.length);
  for (const id of o.channelIds) {
    checkRange(id, 0, 0xffff, 'channel id');
    net.u16le(id);
  }
  if (o.channelIds.length % 2 === 1) net.u16le(0);
  const parts = [block(SC_CORE, core), block(SC_SECURITY, security), block(SC_NET, net.toBuffer())];
  if (o.messageChannel !== undefined) {
    checkRange(o.messageChannel, 0, 0xffff, 'message channel');
    parts.push(block(SC_MCS_MSGCHANNEL, new ByteWriter().u16le(o.messageChannel).toBuffer()));
  }
  return Buffer.concat(parts);
}

export interface ClientDataOptions {
  version?: number;
  desktopWidth: number;
  desktopHeight: number;
  clientName?: string;
  keyboardLayout?: number;
  clientBuild?: number;
  highColorDepth?: number;
  supportedColorDepths?: number;
  earlyCapabilityFlags?: number;
  /** Omitted: the core block ends before serverSelectedProtocol, as old clients send it. */
  clientRequestedProtocols?: number;
  channels?: ClientChannel[];
  messageChannel?: boolean;
}

/** Client data blocks (CS_CORE, CS_SECURITY, CS_NET, optional CS_MCS_MSGCHANNEL). */
export function writeClientDataBlocks(o: ClientDataOptions): Buffer {
  const core = new ByteWriter()
    .u32le(o.version ?? RDP_VERSION_5_PLUS)
    .u16le(o.desktopWidth)
    .u16le(o.desktopHeight)
    .u16le(0xca01) // RNS_UD_COLOR_8BPP; highColorDepth says what is really meant
    .u16le(0xaa03) // RNS_UD_SAS_DEL
    .u32le(o.keyboardLayout ?? 0x409)
    .u32le(o.clientBuild ?? 2600);
  const name = Buffer.alloc(32);
  name.write((o.clientName ?? 'warden').slice(0, 15), 'utf16le');
  core.bytes(name).u32le(4).u32le(0).u32le(12).zeros(64);
  core.u16le(0xca01).u16le(1).u32le(0).u16le(o.highColorDepth ?? 24).u16le(o.supportedColorDepths ?? 0x0f).u16le(o.earlyCapabilityFlags ?? 0x0001);
  core.zeros(64).u8(0).u8(0);
  if (o.clientRequestedProtocols !== undefined) core.u32le(o.clientRequestedProtocols);
  const parts = [block(CS_CORE, core.toBuffer()), block(CS_SECURITY, new ByteWriter().u32le(0).u32le(0).toBuffer())];
  const channels = o.channels ?? [];
  if (channels.length > MAX_STATIC_CHANNELS) throw new RdpProtocolError(`client network data: ${channels.length} channels`);
  const net = new ByteWriter().u32le(channels.length);
  for (const c of channels) {
    if (!/^[\x21-\x7e]{1,7}$/.test(c.name)) throw new RdpProtocolError('client network data: channel name must be 1-7 printable ASCII characters');
    const n = Buffer.alloc(8);
    n.write(c.name, 'latin1');
    net.bytes(n).u32le(c.options);
  }
  parts.push(block(CS_NET, net.toBuffer()));
  if (o.messageChannel) parts.push(block(CS_MCS_MSGCHANNEL, new ByteWriter().u32le(0).toBuffer()));
  return Buffer.concat(parts);
}
