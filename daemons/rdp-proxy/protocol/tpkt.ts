// TPKT (T.123 §8): version 3, reserved 0, a big-endian length covering the whole packet. Every slow-path PDU and
// the X.224 connection PDUs travel in one.
import { RdpProtocolError } from './errors.js';

export const TPKT_HEADER_LENGTH = 4;
export const TPKT_VERSION = 3;

/** The bytes after the TPKT header, once the header is checked against the frame's real length. */
export function tpktPayload(frame: Buffer): Buffer {
  // Every relayed slow-path frame passes here: messages are built only on failure.
  if (frame.length < TPKT_HEADER_LENGTH) throw new RdpProtocolError(`TPKT: ${frame.length} bytes, shorter than its header`);
  if (frame[0] !== TPKT_VERSION) throw new RdpProtocolError(`TPKT: version ${frame[0]}, expected 3`);
  if (frame[1] !== 0) throw new RdpProtocolError('TPKT: reserved byte not zero');
  const length = frame.readUInt16BE(2);
  if (length !== frame.length) throw new RdpProtocolError(`TPKT: length field ${length} but the frame has ${frame.length} bytes`);
  return frame.subarray(TPKT_HEADER_LENGTH);
}

export function wrapTpkt(payload: Buffer): Buffer {
  const length = payload.length + TPKT_HEADER_LENGTH;
  if (length > 0xffff) throw new RdpProtocolError(`TPKT: ${length} bytes do not fit a TPKT length`);
  const out = Buffer.alloc(length);
  out[0] = TPKT_VERSION;
  out.writeUInt16BE(length, 2);
  payload.copy(out, TPKT_HEADER_LENGTH);
  return out;
}
