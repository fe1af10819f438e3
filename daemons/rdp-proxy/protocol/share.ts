// The one share data PDU the proxy writes itself: Set Error Info (MS-RDPBCGR 2.2.5.1.1), so a refused or ended
// connection tells the client why in the client's own words (FreeRDP prints the code's name; mstsc shows its
// message) instead of a bare dropped connection. It may come before the share is active: clients read it as an
// out-of-sequence PDU during licensing too.
import { ByteWriter } from './bytes.js';
import { buildSendData } from './mcs.js';

const PDUTYPE_DATAPDU = 0x7;
const TS_PROTOCOL_VERSION = 0x10;
const PDUTYPE2_SET_ERROR_INFO_PDU = 0x2f;
const STREAM_LOW = 0x1;
/** The server's MCS user id (1002 by convention): the pduSource and initiator of what the server sends. */
export const SERVER_CHANNEL_ID = 1002;

/** Codes the proxy uses (MS-RDPBCGR 2.2.5.1.1). */
export const ERRINFO_RPC_INITIATED_DISCONNECT = 0x00000001;
export const ERRINFO_SERVER_DENIED_CONNECTION = 0x00000007;
export const ERRINFO_SERVER_INSUFFICIENT_PRIVILEGES = 0x00000009;

/** A whole TPKT frame: Set Error Info on the I/O channel, from the server. */
export function buildSetErrorInfo(errorInfo: number, ioChannel: number, shareId = 0x000103ea): Buffer {
  const body = new ByteWriter().u32le(errorInfo).toBuffer();
  // Share data header: shareId, pad1, streamId, uncompressedLength, pduType2, compressedType, compressedLength.
  const data = new ByteWriter().u32le(shareId).u8(0).u8(STREAM_LOW).u16le(4 + body.length).u8(PDUTYPE2_SET_ERROR_INFO_PDU).u8(0).u16le(0).bytes(body).toBuffer();
  const total = 6 + data.length;
  const pdu = new ByteWriter().u16le(total).u16le(TS_PROTOCOL_VERSION | PDUTYPE_DATAPDU).u16le(SERVER_CHANNEL_ID).bytes(data).toBuffer();
  return buildSendData('indication', SERVER_CHANNEL_ID, ioChannel, pdu);
}
