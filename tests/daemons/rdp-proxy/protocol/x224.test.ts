// X.224 negotiation: the spec's and a real client's Connection Requests parse to the cookie or routing token and
// the requested protocols; the proxy's confirms are byte-for-byte what the spec shows; malformed requests refuse.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildConnectionConfirm,
  buildConnectionRequest,
  buildNegotiationFailure,
  parseConnectionConfirm,
  parseConnectionRequest,
  PROTOCOL_HYBRID,
  PROTOCOL_RDP,
  PROTOCOL_SSL,
  RdpProtocolError,
  SSL_REQUIRED_BY_SERVER,
  HYBRID_REQUIRED_BY_SERVER,
  wrapX224Data,
  x224DataPayload,
} from '../../../../daemons/rdp-proxy/protocol/index.js';
import { SPEC_CONNECTION_CONFIRM, SPEC_CONNECTION_REQUEST } from './spec-samples.js';
import { FREERDP_ROUTING_TOKEN_CR, FREERDP_SESSION } from './captured-frames.js';

const hex = (h: string) => Buffer.from(h, 'hex');
const refuses = (fn: () => unknown, re?: RegExp) => assert.throws(fn, (e: unknown) => e instanceof RdpProtocolError && (!re || re.test(e.message)));

describe('X.224 Connection Request', () => {
  test('MS-RDPBCGR 4.1.1: the mstshash cookie and PROTOCOL_RDP', () => {
    assert.deepEqual(parseConnectionRequest(hex(SPEC_CONNECTION_REQUEST)), { cookie: 'eltons', requestedProtocols: PROTOCOL_RDP, negFlags: 0 });
  });

  test('xfreerdp: the user name as cookie, and a load-balance routing token (the .rdp ticket path)', () => {
    assert.deepEqual(parseConnectionRequest(hex(FREERDP_SESSION[0]!.hex)), { cookie: 'alice@db01', requestedProtocols: PROTOCOL_SSL, negFlags: 0 });
    assert.deepEqual(parseConnectionRequest(hex(FREERDP_ROUTING_TOKEN_CR)), { routingToken: 'tsv://warden/TICKET123', requestedProtocols: PROTOCOL_SSL, negFlags: 0 });
  });

  test('build → parse round trips: cookie, routing token, neither; no RDP_NEG_REQ means requestedProtocols undefined', () => {
    for (const o of [
      { cookie: 'alice:Administrator@db01', requestedProtocols: PROTOCOL_SSL | PROTOCOL_HYBRID },
      { routingToken: 'tsv://warden/AbC-123_x', requestedProtocols: PROTOCOL_SSL },
      { requestedProtocols: 0 },
    ]) {
      assert.deepEqual(parseConnectionRequest(buildConnectionRequest(o)), { ...o, negFlags: 0 });
    }
    // A legacy request: token line only, no negotiation data.
    const legacy = Buffer.from('030000' + '22' + '1de00000000000' + Buffer.from('Cookie: mstshash=bob\r\n').toString('hex'), 'hex');
    legacy.writeUInt16BE(legacy.length, 2);
    legacy[4] = legacy.length - 5;
    assert.deepEqual(parseConnectionRequest(legacy), { cookie: 'bob', negFlags: 0 });
  });

  test('correlation info after RDP_NEG_REQ is read; the builder refuses what it cannot encode', () => {
    const base = buildConnectionRequest({ cookie: 'x', requestedProtocols: 3, negFlags: 0x08 });
    const corr = Buffer.concat([Buffer.of(6, 0, 36, 0), Buffer.alloc(16, 0xab), Buffer.alloc(16)]);
    const withCorr = Buffer.concat([base, corr]);
    withCorr.writeUInt16BE(withCorr.length, 2);
    withCorr[4] = withCorr.length - 5;
    const cr = parseConnectionRequest(withCorr);
    assert.equal(cr.negFlags, 0x08);
    assert.deepEqual(cr.correlationId, Buffer.alloc(16, 0xab));
    refuses(() => buildConnectionRequest({ cookie: 'a', routingToken: 'b', requestedProtocols: 1 }));
    refuses(() => buildConnectionRequest({ cookie: 'a\r\nb', requestedProtocols: 1 }));
  });

  test('malformed requests are refused with RdpProtocolError', () => {
    const good = hex(SPEC_CONNECTION_REQUEST);
    const mutate = (f: (b: Buffer) => void) => {
      const b = Buffer.from(good);
      f(b);
      return b;
    };
    refuses(() => parseConnectionRequest(good.subarray(0, 30)), /length field/);
    refuses(() => parseConnectionRequest(mutate((b) => (b[5] = 0xd0))), /Connection Request/);
    refuses(() => parseConnectionRequest(mutate((b) => (b[4] = 0x30))), /truncated/);
    refuses(() => parseConnectionRequest(mutate((b) => (b[34] = 0x0a))), /CRLF/); // CR of the CRLF gone
    refuses(() => parseConnectionRequest(mutate((b) => (b[38] = 0x09))), /RDP_NEG_REQ length/);
    refuses(() => parseConnectionRequest(mutate((b) => (b[20] = 0x07))), /non-printable/);
    refuses(() => parseConnectionRequest(mutate((b) => (b[10] = 0x20))), /class 2/);
    refuses(() => parseConnectionRequest(buildConnectionConfirm(PROTOCOL_SSL)), /expected a Connection Request/);
  });
});

describe('X.224 Connection Confirm', () => {
  test('MS-RDPBCGR 4.1.2: the built confirm selecting TLS is the spec dump byte for byte', () => {
    assert.deepEqual(buildConnectionConfirm(PROTOCOL_SSL), hex(SPEC_CONNECTION_CONFIRM));
    assert.deepEqual(parseConnectionConfirm(hex(SPEC_CONNECTION_CONFIRM)), { selectedProtocol: PROTOCOL_SSL, flags: 0 });
  });

  test('a real server confirm, the failure codes, and a bare confirm (standard RDP security)', () => {
    assert.deepEqual(parseConnectionConfirm(hex(FREERDP_SESSION[1]!.hex)), { selectedProtocol: PROTOCOL_SSL, flags: 3 });
    assert.deepEqual(parseConnectionConfirm(buildConnectionConfirm(PROTOCOL_HYBRID, 0x1f)), { selectedProtocol: PROTOCOL_HYBRID, flags: 0x1f });
    assert.deepEqual(parseConnectionConfirm(buildNegotiationFailure(SSL_REQUIRED_BY_SERVER)), { failure: SSL_REQUIRED_BY_SERVER });
    assert.deepEqual(parseConnectionConfirm(buildNegotiationFailure(HYBRID_REQUIRED_BY_SERVER)), { failure: 5 });
    assert.deepEqual(parseConnectionConfirm(hex('0300000b06d00000123400')), { selectedProtocol: PROTOCOL_RDP, flags: 0 });
    const bad = buildConnectionConfirm(PROTOCOL_SSL);
    bad[11] = 9;
    refuses(() => parseConnectionConfirm(bad), /negotiation type 9/);
  });

  test('X.224 Data TPDU wrapping round trips and refuses other TPDUs', () => {
    const mcs = Buffer.from([1, 2, 3, 4]);
    assert.deepEqual(x224DataPayload(wrapX224Data(mcs)), mcs);
    refuses(() => x224DataPayload(buildConnectionConfirm(1)), /Data TPDU/);
    refuses(() => x224DataPayload(hex('0300000702f000')), /EOT/);
  });
});
