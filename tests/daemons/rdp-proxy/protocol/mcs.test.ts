// MCS and GCC: the spec's and a real client's Connect-Initial parse to their client data; the same-size rewrite
// touches only the two core fields; the fabricated Connect-Response parses back (and as a real server's does);
// domain PDUs match the spec dumps byte for byte both ways; Send Data ids translate in place.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildAttachUserConfirm,
  buildAttachUserRequest,
  buildChannelJoinConfirm,
  buildChannelJoinRequest,
  buildConnectInitial,
  buildConnectResponse,
  buildDisconnectProviderUltimatum,
  buildErectDomain,
  buildSendData,
  CS_CORE,
  parseConnectInitial,
  parseConnectResponse,
  parseDomainPdu,
  PROTOCOL_HYBRID,
  PROTOCOL_SSL,
  RdpProtocolError,
  rewriteConnectInitial,
  RNS_UD_CS_SUPPORT_DYNVC_GFX_PROTOCOL,
  RT_UNSPECIFIED_FAILURE,
  translateSendData,
} from '../../../../daemons/rdp-proxy/protocol/index.js';
import {
  SPEC_ATTACH_USER_CONFIRM,
  SPEC_ATTACH_USER_REQUEST,
  SPEC_CHANNEL_JOIN_CONFIRM,
  SPEC_CHANNEL_JOIN_REQUEST,
  SPEC_CONNECT_INITIAL,
  SPEC_DISCONNECT_PROVIDER_ULTIMATUM,
  SPEC_ERECT_DOMAIN,
} from './spec-samples.js';
import { FREERDP_SESSION, XRDP_FRAMES } from './captured-frames.js';

const hex = (h: string) => Buffer.from(h, 'hex');
const refuses = (fn: () => unknown, re?: RegExp) => assert.throws(fn, (e: unknown) => e instanceof RdpProtocolError && (!re || re.test(e.message)));
const captured = (i: number) => hex(FREERDP_SESSION[i]!.hex);

describe('MCS Connect-Initial', () => {
  test('MS-RDPBCGR 4.1.3: core, cluster, security and network data as annotated', () => {
    const ci = parseConnectInitial(hex(SPEC_CONNECT_INITIAL));
    assert.equal(ci.upwardFlag, true);
    assert.equal(ci.targetParameters.maxChannelIds, 34);
    assert.equal(ci.minimumParameters.maxMCSPDUsize, 1056);
    assert.equal(ci.maximumParameters.maxMCSPDUsize, 65535);
    const { offsets, ...core } = ci.core;
    assert.deepEqual(core, {
      version: 0x00080004,
      desktopWidth: 1280,
      desktopHeight: 1024,
      colorDepth: 0xca01,
      keyboardLayout: 0x409,
      clientBuild: 3790,
      clientName: 'ELTONS-DEV2',
      postBeta2ColorDepth: 0xca01,
      highColorDepth: 24,
      supportedColorDepths: 7,
      earlyCapabilityFlags: 1,
      connectionType: 0,
      clientRequestedProtocols: 0,
    });
    assert.deepEqual(offsets, { block: 0x84, earlyCapabilityFlags: 0x114, clientRequestedProtocols: 0x158 });
    assert.deepEqual(ci.cluster, { flags: 0x0d, redirectedSessionId: 0 });
    assert.deepEqual(ci.security, { encryptionMethods: 0x1b, extEncryptionMethods: 0 });
    assert.deepEqual(ci.channels, [
      { name: 'rdpdr', options: 0x80800000 },
      { name: 'cliprdr', options: 0xc0a00000 },
      { name: 'rdpsnd', options: 0xc0000000 },
    ]);
    assert.equal(ci.hasMessageChannel, false);
  });

  test('xfreerdp with /gfx: the GFX flag, TLS in serverSelectedProtocol, four channels, a message channel', () => {
    const ci = parseConnectInitial(captured(2));
    assert.equal(ci.core.desktopWidth, 1024);
    assert.equal(ci.core.desktopHeight, 768);
    assert.equal(ci.core.clientRequestedProtocols, PROTOCOL_SSL);
    assert.ok(ci.core.earlyCapabilityFlags! & RNS_UD_CS_SUPPORT_DYNVC_GFX_PROTOCOL);
    assert.deepEqual(ci.channels.map((c) => c.name), ['rdpdr', 'rdpsnd', 'cliprdr', 'drdynvc']);
    assert.equal(ci.hasMessageChannel, true);
    assert.equal(ci.multitransportFlags, 0);
  });

  test('rewriteConnectInitial keeps the size and changes only serverSelectedProtocol and the cleared early flags', () => {
    for (const frame of [hex(SPEC_CONNECT_INITIAL), captured(2)]) {
      const before = parseConnectInitial(frame);
      const out = rewriteConnectInitial(frame, { requestedProtocols: PROTOCOL_HYBRID, clearEarlyFlags: RNS_UD_CS_SUPPORT_DYNVC_GFX_PROTOCOL | 0x0001 });
      assert.notEqual(out, frame);
      assert.equal(out.length, frame.length);
      const changed: number[] = [];
      for (let i = 0; i < frame.length; i++) if (frame[i] !== out[i]) changed.push(i);
      const rp = before.core.offsets.clientRequestedProtocols!;
      const ef = before.core.offsets.earlyCapabilityFlags!;
      assert.ok(changed.length > 0);
      assert.ok(changed.every((i) => (i >= rp && i < rp + 4) || (i >= ef && i < ef + 2)), `changed bytes ${changed}`);
      const after = parseConnectInitial(out);
      assert.equal(after.core.clientRequestedProtocols, PROTOCOL_HYBRID);
      assert.equal(after.core.earlyCapabilityFlags, before.core.earlyCapabilityFlags! & ~(0x0100 | 0x0001));
      assert.deepEqual(after.channels, before.channels);
    }
    // The input is not touched.
    assert.equal(parseConnectInitial(captured(2)).core.clientRequestedProtocols, PROTOCOL_SSL);
  });

  test('a core block without serverSelectedProtocol cannot take a new protocol; build → parse round trips', () => {
    const old = buildConnectInitial({ desktopWidth: 800, desktopHeight: 600, channels: [{ name: 'cliprdr', options: 0xc0a00000 }] });
    const ci = parseConnectInitial(old);
    assert.equal(ci.core.clientRequestedProtocols, undefined);
    assert.deepEqual(ci.channels, [{ name: 'cliprdr', options: 0xc0a00000 }]);
    refuses(() => rewriteConnectInitial(old, { requestedProtocols: 1 }), /serverSelectedProtocol/);
    assert.equal(parseConnectInitial(rewriteConnectInitial(old, { clearEarlyFlags: 1 })).core.earlyCapabilityFlags, 0);
    const full = parseConnectInitial(buildConnectInitial({ desktopWidth: 1920, desktopHeight: 1080, clientName: 'ws1', clientRequestedProtocols: 3, messageChannel: true }));
    assert.equal(full.core.clientName, 'ws1');
    assert.equal(full.core.clientRequestedProtocols, 3);
    assert.equal(full.hasMessageChannel, true);
    assert.equal(full.blocks[0]!.type, CS_CORE);
  });

  test('the built Connect-Initial encodes selectors, domain parameters and the GCC header as the 4.1.3 dump does', () => {
    const spec = hex(SPEC_CONNECT_INITIAL);
    const built = buildConnectInitial({ desktopWidth: 1280, desktopHeight: 1024 });
    // Selectors, upwardFlag and the three DomainParameters: 0x0c..0x69 in the dump, right after the 7f 65 82 xx xx header.
    assert.deepEqual(built.subarray(12, 0x69), spec.subarray(12, 0x69));
    // GCC: after the connectPDU length, choice, selection 0x08, conferenceName "1" (00 10), flags, one set, "Duca".
    const gccHeader = hex('000800100001c00044756361');
    assert.ok(spec.includes(gccHeader) && built.includes(gccHeader));
  });

  test('lying lengths, a missing core block and bad channel names are refused', () => {
    const spec = hex(SPEC_CONNECT_INITIAL);
    const m = (at: number, v: number) => {
      const b = Buffer.from(spec);
      b[at] = v;
      return b;
    };
    refuses(() => parseConnectInitial(m(0x0b, 0x95)), /length|truncated/); // Connect-Initial BER length
    refuses(() => parseConnectInitial(m(0x6c, 0x34)), /truncated|length/); // userData octet string
    refuses(() => parseConnectInitial(m(0x83, 0x1d)), /length|truncated/); // GCC user data length
    refuses(() => parseConnectInitial(m(0x86, 0x03)), /length 3/); // core block length
    refuses(() => parseConnectInitial(m(0x84, 0x07)), /no core data block/); // core block type
    refuses(() => parseConnectInitial(m(0x17c, 0x01)), /channel name/);
    refuses(() => parseConnectInitial(m(0x178, 0x40)), /channels/); // channelCount 64
    refuses(() => parseConnectInitial(m(0x7d, 0x45)), /Duca/);
  });
});

describe('MCS Connect-Response', () => {
  test('the fabricated response parses back: TLS, I/O channel, static channels in order, message channel', () => {
    const frame = buildConnectResponse({ requestedProtocols: PROTOCOL_SSL, ioChannel: 1003, channelIds: [1004, 1005, 1006], messageChannel: 1007 });
    const r = parseConnectResponse(frame);
    assert.equal(r.result, 0);
    assert.deepEqual(r.serverCore, { version: 0x00080004, requestedProtocols: PROTOCOL_SSL, earlyCapabilityFlags: 0 });
    assert.deepEqual(r.security, { encryptionMethod: 0, encryptionLevel: 0 });
    assert.equal(r.ioChannel, 1003);
    assert.deepEqual(r.channelIds, [1004, 1005, 1006]);
    assert.equal(r.messageChannel, 1007);
    const even = parseConnectResponse(buildConnectResponse({ requestedProtocols: 3, ioChannel: 1003, channelIds: [1004, 1005], earlyCapabilityFlags: 8 }));
    assert.deepEqual(even.channelIds, [1004, 1005]);
    assert.equal(even.messageChannel, undefined);
    assert.equal(even.serverCore.earlyCapabilityFlags, 8);
    assert.equal(parseConnectResponse(buildConnectResponse({ requestedProtocols: 1, ioChannel: 1003, channelIds: [], result: RT_UNSPECIFIED_FAILURE })).result, RT_UNSPECIFIED_FAILURE);
  });

  test("a real server's response (freerdp-shadow): its channel ids and message channel", () => {
    const r = parseConnectResponse(captured(3));
    assert.equal(r.ioChannel, 1003);
    assert.deepEqual(r.channelIds, [1004, 1005, 1006, 1007]);
    assert.equal(r.messageChannel, 1008);
    assert.equal(r.serverCore.requestedProtocols, PROTOCOL_SSL);
    assert.equal(r.domainParameters?.maxMCSPDUsize, 65528);
  });

  test("xrdp's response (the lab target): a short SC_CORE without early flags, no message channel", () => {
    const r = parseConnectResponse(hex(XRDP_FRAMES.connectResponse));
    assert.deepEqual(r.serverCore, { version: 0x00080004, requestedProtocols: PROTOCOL_SSL });
    assert.equal(r.ioChannel, 1003);
    assert.deepEqual(r.channelIds, [1004, 1005, 1006, 1007]);
    assert.equal(r.messageChannel, undefined);
    assert.deepEqual(parseDomainPdu(hex(XRDP_FRAMES.attachUserConfirm)), { type: 'attachUserConfirm', result: 0, initiator: 1008 });
  });

  test('a result-only refusal parses; a truncated response does not', () => {
    assert.equal(parseConnectResponse(hex('0300000d02f0807f66030a010e')).result, 14);
    refuses(() => parseConnectResponse(captured(3).subarray(0, 60)), /length/);
    refuses(() => parseConnectResponse(captured(2)), /APPLICATION 102/);
  });
});

describe('MCS domain PDUs', () => {
  test('MS-RDPBCGR 4.1.5-4.1.8 and 4.2.3: parsed as annotated, and the builders give the same bytes', () => {
    const cases: [string, Buffer, object][] = [
      [SPEC_ERECT_DOMAIN, buildErectDomain(), { type: 'erectDomain', subHeight: 0, subInterval: 0 }],
      [SPEC_ATTACH_USER_REQUEST, buildAttachUserRequest(), { type: 'attachUserRequest' }],
      [SPEC_ATTACH_USER_CONFIRM, buildAttachUserConfirm(0, 1007), { type: 'attachUserConfirm', result: 0, initiator: 1007 }],
      [SPEC_CHANNEL_JOIN_REQUEST, buildChannelJoinRequest(1007, 1003), { type: 'channelJoinRequest', initiator: 1007, channelId: 1003 }],
      [SPEC_CHANNEL_JOIN_CONFIRM, buildChannelJoinConfirm(1007, 1007), { type: 'channelJoinConfirm', result: 0, initiator: 1007, requested: 1007, channelId: 1007 }],
      [SPEC_DISCONNECT_PROVIDER_ULTIMATUM, buildDisconnectProviderUltimatum(), { type: 'disconnectProviderUltimatum', reason: 3 }],
    ];
    for (const [spec, built, parsed] of cases) {
      assert.equal(built.toString('hex'), spec);
      assert.deepEqual(parseDomainPdu(hex(spec)), parsed);
    }
  });

  test('round trips with non-zero results and every disconnect reason (the 4-bit result straddles a byte)', () => {
    assert.deepEqual(parseDomainPdu(buildAttachUserConfirm(14, 1010)), { type: 'attachUserConfirm', result: 14, initiator: 1010 });
    assert.deepEqual(parseDomainPdu(buildChannelJoinConfirm(1010, 1004, 9)), { type: 'channelJoinConfirm', result: 9, initiator: 1010, requested: 1004, channelId: 1004 });
    for (let reason = 0; reason <= 4; reason++) assert.deepEqual(parseDomainPdu(buildDisconnectProviderUltimatum(reason)), { type: 'disconnectProviderUltimatum', reason });
    // Attach User Confirm without an initiator (a refusal).
    assert.deepEqual(parseDomainPdu(hex('0300000902f0802d40')), { type: 'attachUserConfirm', result: 10 });
  });

  test('Send Data: short and long PER lengths (15-bit, as RDP peers use them) round trip, data is a view of the frame', () => {
    for (const size of [0, 1, 0x7f, 0x80, 1000, 0x3fff, 0x4000, 0x7fff - 8]) {
      const data = Buffer.alloc(size, 0x5a);
      for (const kind of ['request', 'indication'] as const) {
        const frame = buildSendData(kind, 1007, 1003, data);
        const pdu = parseDomainPdu(frame);
        assert.equal(pdu.type, kind === 'request' ? 'sendDataRequest' : 'sendDataIndication');
        if (pdu.type !== 'sendDataRequest' && pdu.type !== 'sendDataIndication') continue;
        assert.deepEqual([pdu.initiator, pdu.channelId, pdu.priority, pdu.segmentation], [1007, 1003, 1, 3]);
        assert.deepEqual(pdu.data, data);
        if (size > 0) assert.equal(pdu.data.buffer, frame.buffer);
      }
    }
    refuses(() => buildSendData('request', 1007, 1003, Buffer.alloc(0x8000)), /PER length/);
    refuses(() => buildSendData('request', 1000, 1003, Buffer.alloc(1)), /integer16/);
  });

  test('the captured channel joins and Client Info parse as what they are', () => {
    assert.deepEqual(parseDomainPdu(captured(6)), { type: 'attachUserConfirm', result: 0, initiator: 1009 });
    assert.deepEqual(parseDomainPdu(captured(9)), { type: 'channelJoinRequest', initiator: 1009, channelId: 1003 });
    const info = parseDomainPdu(captured(21));
    assert.equal(info.type, 'sendDataRequest');
  });

  test('translateSendData rewrites initiator and channel in place, same size, and returns the frame when nothing changes', () => {
    const frame = captured(24);
    const same = translateSendData(frame, { initiator: (id) => id, channelId: (id) => id });
    assert.equal(same, frame);
    const out = translateSendData(frame, { initiator: () => 1007, channelId: (id) => (id === 1003 ? 1004 : id) });
    assert.equal(out.length, frame.length);
    const a = parseDomainPdu(frame);
    const b = parseDomainPdu(out);
    assert.ok(a.type === 'sendDataRequest' && b.type === 'sendDataRequest');
    assert.deepEqual([b.initiator, b.channelId], [1007, 1004]);
    assert.deepEqual(b.data, a.data);
    assert.deepEqual([a.initiator, a.channelId], [1009, 1003], 'the input frame is not touched');
    refuses(() => translateSendData(captured(4), {}), /expected Send Data/);
    refuses(() => translateSendData(frame, { channelId: () => 70000 }), /translated channelId/);
  });

  test('unknown choices, trailing bytes and lying Send Data lengths are refused', () => {
    refuses(() => parseDomainPdu(hex('0300000802f080fc')), /choice 63/);
    refuses(() => parseDomainPdu(hex('0300000902f0802800')), /trailing/);
    const frame = buildSendData('request', 1007, 1003, Buffer.alloc(10));
    frame[13] = 11;
    refuses(() => parseDomainPdu(frame), /userData length 11/);
    refuses(() => parseDomainPdu(hex('0300000702f080')), /truncated/);
  });
});

test('Set Error Info: a Send Data Indication from the server on the I/O channel carrying a share data PDU of type 0x2F', async () => {
  const { buildSetErrorInfo, parseDomainPdu, ERRINFO_SERVER_DENIED_CONNECTION, SERVER_CHANNEL_ID } = await import('../../../../daemons/rdp-proxy/protocol/index.js');
  const pdu = parseDomainPdu(buildSetErrorInfo(ERRINFO_SERVER_DENIED_CONNECTION, 1003));
  assert.equal(pdu.type, 'sendDataIndication');
  if (pdu.type !== 'sendDataIndication') return;
  assert.deepEqual([pdu.initiator, pdu.channelId], [SERVER_CHANNEL_ID, 1003]);
  const d = pdu.data;
  assert.equal(d.readUInt16LE(0), d.length, 'share control totalLength');
  assert.equal(d.readUInt16LE(2), 0x17, 'PDUTYPE_DATAPDU, version 1');
  assert.equal(d[14], 0x2f, 'pduType2 SET_ERROR_INFO');
  assert.equal(d.readUInt32LE(18), ERRINFO_SERVER_DENIED_CONNECTION);
});
