// Confirm Active: the client's offer narrowed so the target sends what the recording can decode (no codecs,
// no surface commands, no drawing orders), every length recomputed, nothing else changed.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildConfirmActive,
  CAPSETTYPE_BITMAP,
  CAPSETTYPE_BITMAP_CODECS,
  DRAW_ALLOW_COLOR_SUBSAMPLING,
  DRAW_ALLOW_DYNAMIC_COLOR_FIDELITY,
  CAPSETTYPE_ORDER,
  CAPSETTYPE_SURFACE_COMMANDS,
  isConfirmActive,
  isDemandActive,
  parseConfirmActive,
  parseDemandActive,
  parseDomainPdu,
  RdpProtocolError,
  rewriteConfirmActive,
} from '../../../../daemons/rdp-proxy/protocol/index.js';
import { FREERDP_SESSION, XRDP_FRAMES } from './captured-frames.js';

const refuses = (fn: () => unknown, re?: RegExp) => assert.throws(fn, (e: unknown) => e instanceof RdpProtocolError && (!re || re.test(e.message)));

function sendData(i: number): Buffer {
  const pdu = parseDomainPdu(Buffer.from(FREERDP_SESSION[i]!.hex, 'hex'));
  assert.ok(pdu.type === 'sendDataRequest' || pdu.type === 'sendDataIndication');
  return pdu.data;
}

describe('Confirm Active', () => {
  test('xfreerdp /rfx /gfx: recognised, and the Demand Active, Client Info and data PDUs are not', () => {
    const data = sendData(24);
    assert.ok(isConfirmActive(data));
    for (const i of [21, 23, 25, 26]) assert.equal(isConfirmActive(sendData(i)), false, `frame ${i}`);
    const ca = parseConfirmActive(data);
    assert.equal(ca.capabilitySets.length, 20);
    assert.ok(ca.capabilitySets.some((c) => c.type === CAPSETTYPE_BITMAP_CODECS));
    assert.deepEqual(buildConfirmActive(ca), data, 'built back unchanged it is the same bytes');
  });

  test('the rewrite drops codecs and surface commands, zeroes order support, recomputes every length', () => {
    const data = sendData(24);
    const before = parseConfirmActive(data);
    const out = rewriteConfirmActive(data);
    assert.equal(out.readUInt16LE(0), out.length, 'totalLength');
    const after = parseConfirmActive(out);
    assert.deepEqual(
      after.capabilitySets.map((c) => c.type),
      before.capabilitySets.map((c) => c.type).filter((t) => t !== CAPSETTYPE_BITMAP_CODECS && t !== CAPSETTYPE_SURFACE_COMMANDS),
    );
    const dropped = before.capabilitySets.filter((c) => c.type === CAPSETTYPE_BITMAP_CODECS || c.type === CAPSETTYPE_SURFACE_COMMANDS).reduce((n, c) => n + c.bytes.length, 0);
    assert.equal(out.length, data.length - dropped);
    // lengthCombinedCapabilities sits after totalLength, pduType, pduSource, shareId, originatorId, lengthSourceDescriptor.
    assert.equal(out.readUInt16LE(14), out.length - 16 - after.sourceDescriptor.length);
    const order = after.capabilitySets.find((c) => c.type === CAPSETTYPE_ORDER)!.bytes;
    const orderBefore = before.capabilitySets.find((c) => c.type === CAPSETTYPE_ORDER)!.bytes;
    assert.ok(orderBefore.subarray(36, 68).some((b) => b !== 0), 'the client offered orders');
    assert.ok(order.subarray(36, 68).every((b) => b === 0));
    assert.deepEqual(order.subarray(0, 36), orderBefore.subarray(0, 36));
    assert.deepEqual([after.shareId, after.originatorId, after.sourceDescriptor], [before.shareId, before.originatorId, before.sourceDescriptor]);
    // keepOrders leaves the order set as it was.
    const kept = parseConfirmActive(rewriteConfirmActive(data, { keepOrders: true }));
    assert.deepEqual(kept.capabilitySets.find((c) => c.type === CAPSETTYPE_ORDER)!.bytes, orderBefore);
    // Idempotent.
    assert.deepEqual(rewriteConfirmActive(out), out);
  });

  test('the rewrite forbids lossy planar (AYCoCg colour fidelity and subsampling) and leaves the rest of the bitmap set', () => {
    const data = sendData(24);
    const before = parseConfirmActive(data);
    const bitmap = before.capabilitySets.find((c) => c.type === CAPSETTYPE_BITMAP)!;
    // Offer both, whatever the captured client offered, to see them cleared.
    const offered = Buffer.from(bitmap.bytes);
    offered[23] = offered[23]! | DRAW_ALLOW_DYNAMIC_COLOR_FIDELITY | DRAW_ALLOW_COLOR_SUBSAMPLING | 0x08;
    const ca = buildConfirmActive({ ...before, capabilitySets: before.capabilitySets.map((c) => (c === bitmap ? { type: c.type, bytes: offered } : c)) });
    const after = parseConfirmActive(rewriteConfirmActive(ca)).capabilitySets.find((c) => c.type === CAPSETTYPE_BITMAP)!.bytes;
    assert.equal(after[23]! & (DRAW_ALLOW_DYNAMIC_COLOR_FIDELITY | DRAW_ALLOW_COLOR_SUBSAMPLING), 0);
    assert.equal(after[23]! & 0x08, 0x08, 'the other drawing flags stay');
    assert.deepEqual(after.subarray(0, 23), offered.subarray(0, 23));
    assert.deepEqual(after.subarray(24), offered.subarray(24));
  });

  test("xfreerdp's Confirm Active to xrdp narrows the same way; xrdp's Demand Active is not a Confirm Active", () => {
    const data = (h: string) => {
      const pdu = parseDomainPdu(Buffer.from(h, 'hex'));
      assert.ok(pdu.type === 'sendDataRequest' || pdu.type === 'sendDataIndication');
      return pdu.data;
    };
    const ca = data(XRDP_FRAMES.confirmActive);
    assert.ok(isConfirmActive(ca));
    assert.equal(isConfirmActive(data(XRDP_FRAMES.demandActive)), false);
    const types = parseConfirmActive(rewriteConfirmActive(ca)).capabilitySets.map((c) => c.type);
    assert.ok(parseConfirmActive(ca).capabilitySets.some((c) => c.type === CAPSETTYPE_BITMAP_CODECS));
    assert.ok(!types.includes(CAPSETTYPE_BITMAP_CODECS) && !types.includes(CAPSETTYPE_SURFACE_COMMANDS));
  });

  test("the servers' Demand Actives: desktop size and depth, session id", () => {
    const shadow = sendData(23);
    assert.ok(isDemandActive(shadow) && !isDemandActive(sendData(24)));
    const d = parseDemandActive(shadow);
    assert.deepEqual(d.desktop, { width: 1024, height: 768, bitsPerPixel: 32 });
    assert.ok(d.capabilitySets.length > 5);
    const xrdp = parseDomainPdu(Buffer.from(XRDP_FRAMES.demandActive, 'hex'));
    assert.ok(xrdp.type === 'sendDataIndication');
    assert.equal(parseDemandActive(xrdp.data).desktop?.width, 1024);
    refuses(() => parseDemandActive(sendData(24)), /pduType/);
    const short = Buffer.from(shadow);
    short.writeUInt16LE(short.readUInt16LE(12) + 9, 12); // lengthCombinedCapabilities past the end
    refuses(() => parseDemandActive(short), /truncated/);
  });

  test('lying lengths and short sets are refused', () => {
    const data = sendData(24);
    const m = (at: number, v: number) => {
      const b = Buffer.from(data);
      b.writeUInt16LE(v, at);
      return b;
    };
    refuses(() => parseConfirmActive(m(0, data.length + 1)), /totalLength/);
    refuses(() => parseConfirmActive(m(14, 10)), /lengthCombinedCapabilities/);
    refuses(() => parseConfirmActive(m(12, 2000)), /truncated/);
    const srcLen = data.readUInt16LE(12);
    refuses(() => parseConfirmActive(m(16 + srcLen, 21)), /truncated|trailing/); // numberCapabilities
    refuses(() => parseConfirmActive(m(16 + srcLen + 6, 2)), /length 2/); // first set's length
    refuses(() => parseConfirmActive(sendData(23)), /pduType/);
  });
});
