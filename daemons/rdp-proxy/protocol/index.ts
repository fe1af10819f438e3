// The RDP wire formats the proxy reads and writes: frame splitting, X.224, MCS (BER/PER), GCC, Client Info and
// Confirm Active. Pure functions over Buffers, no I/O; malformed input throws RdpProtocolError and nothing else.
export { RdpProtocolError } from './errors.js';
export * from './frames.js';
export * from './tpkt.js';
export * from './x224.js';
export * from './gcc.js';
export * from './mcs.js';
export * from './client-info.js';
export * from './capabilities.js';
export { ByteReader, ByteWriter } from './bytes.js';
export * as ber from './ber.js';
export * as per from './per.js';
export * from './share.js';
