// Fuzz: every valid sample, mutated thousands of ways (bytes flipped, truncated, extended, spliced, with and
// without the TPKT length patched to match so the inner parsers are reached), goes through every parser and
// rewriter. Each either returns or throws RdpProtocolError; nothing else escapes and nothing hangs. Seeded, so
// a failure names the seed and case that reproduce it.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as rdp from '../../../../daemons/rdp-proxy/protocol/index.js';
import { FREERDP_ROUTING_TOKEN_CR, FREERDP_SESSION, XRDP_FRAMES } from './captured-frames.js';
import * as spec from './spec-samples.js';
import { prng } from '../../../helpers/prng.js';

const SEED = 0x5eed10;
const hex = (h: string) => Buffer.from(h, 'hex');

/** Every frame-level entry point the relay may call on bytes from either side. */
const FRAME_PARSERS: [string, (b: Buffer) => unknown][] = [
  ['parseConnectionRequest', rdp.parseConnectionRequest],
  ['parseConnectionConfirm', rdp.parseConnectionConfirm],
  ['parseConnectInitial', rdp.parseConnectInitial],
  ['rewriteConnectInitial', (b) => rdp.rewriteConnectInitial(b, { requestedProtocols: 3, clearEarlyFlags: 0x100 })],
  ['parseConnectResponse', rdp.parseConnectResponse],
  ['parseDomainPdu', rdp.parseDomainPdu],
  ['translateSendData', (b) => rdp.translateSendData(b, { initiator: (i) => (i === 1009 ? 1007 : i), channelId: (c) => c })],
  ['sendDataContents', sendDataContents],
];

/** What the relay does with a Send Data's user data: Client Info and Confirm Active, read and rebuilt. */
function sendDataContents(frame: Buffer): unknown {
  const pdu = rdp.parseDomainPdu(frame);
  if (pdu.type !== 'sendDataRequest' && pdu.type !== 'sendDataIndication') return pdu;
  return dataContents(pdu.data);
}

function dataContents(data: Buffer): unknown {
  const ops = [
    () => rdp.isClientInfo(data),
    () => rdp.isConfirmActive(data),
    () => rdp.isDemandActive(data),
    () => rdp.buildClientInfo(rdp.clientInfoForTarget(rdp.parseClientInfo(data), { domain: 'D', userName: 'u', password: 'p' })),
    () => rdp.rewriteConfirmActive(data),
    () => rdp.parseDemandActive(data),
  ];
  // Each on its own, so one refusing does not hide the others from the input.
  return ops.map((op) => {
    try {
      return op();
    } catch (e) {
      if (!(e instanceof rdp.RdpProtocolError)) throw e;
      return e;
    }
  });
}

const captured = (i: number) => hex(FREERDP_SESSION[i]!.hex);
type Parse = (b: Buffer) => unknown;
const P = Object.fromEntries(FRAME_PARSERS) as Record<string, Parse>;

/** Each distinct valid sample with the parsers meant for it; every tenth mutation also goes through all of them. */
const SAMPLES: [string, Buffer, Parse[]][] = [
  ['captured CR', captured(0), [P.parseConnectionRequest!]],
  ['captured CR with routing token', hex(FREERDP_ROUTING_TOKEN_CR), [P.parseConnectionRequest!]],
  ['4.1.1 CR', hex(spec.SPEC_CONNECTION_REQUEST), [P.parseConnectionRequest!]],
  ['captured CC', captured(1), [P.parseConnectionConfirm!]],
  ['4.1.2 CC', hex(spec.SPEC_CONNECTION_CONFIRM), [P.parseConnectionConfirm!]],
  ['negotiation failure', rdp.buildNegotiationFailure(rdp.SSL_REQUIRED_BY_SERVER), [P.parseConnectionConfirm!]],
  ['captured Connect-Initial', captured(2), [P.parseConnectInitial!, P.rewriteConnectInitial!]],
  ['4.1.3 Connect-Initial', hex(spec.SPEC_CONNECT_INITIAL), [P.parseConnectInitial!, P.rewriteConnectInitial!]],
  ['captured Connect-Response', captured(3), [P.parseConnectResponse!]],
  ['built Connect-Response', rdp.buildConnectResponse({ requestedProtocols: 1, ioChannel: 1003, channelIds: [1004, 1005, 1006], messageChannel: 1007 }), [P.parseConnectResponse!]],
  ['4.1.5 Erect Domain', hex(spec.SPEC_ERECT_DOMAIN), [P.parseDomainPdu!]],
  ['4.1.7 Attach User Confirm', hex(spec.SPEC_ATTACH_USER_CONFIRM), [P.parseDomainPdu!]],
  ['4.1.8 Channel Join Request', hex(spec.SPEC_CHANNEL_JOIN_REQUEST), [P.parseDomainPdu!]],
  ['4.1.8 Channel Join Confirm', hex(spec.SPEC_CHANNEL_JOIN_CONFIRM), [P.parseDomainPdu!]],
  ['4.2.3 Disconnect Provider Ultimatum', hex(spec.SPEC_DISCONNECT_PROVIDER_ULTIMATUM), [P.parseDomainPdu!]],
  ['captured Client Info', captured(21), [P.sendDataContents!, P.translateSendData!]],
  ['captured Demand Active', captured(23), [P.sendDataContents!, P.translateSendData!]],
  ['captured Confirm Active', captured(24), [P.sendDataContents!, P.translateSendData!]],
  ['captured data PDU', captured(25), [P.sendDataContents!, P.translateSendData!]],
  ['xrdp Connect-Response', hex(XRDP_FRAMES.connectResponse), [P.parseConnectResponse!]],
  ['xrdp licence request', hex(XRDP_FRAMES.licenseRequest), [P.sendDataContents!]],
  ['xrdp client licence', hex(XRDP_FRAMES.clientLicense), [P.sendDataContents!]],
  ['xrdp Demand Active', hex(XRDP_FRAMES.demandActive), [P.sendDataContents!]],
];

function mutate(src: Buffer, rand: () => number): Buffer {
  const pick = (n: number) => Math.floor(rand() * n);
  let b = Buffer.from(src);
  const edits = 1 + pick(4);
  for (let e = 0; e < edits; e++) {
    const kind = pick(7);
    if (kind <= 2 && b.length > 0) b[pick(b.length)] = pick(256); // a random byte
    else if (kind === 3 && b.length > 0) b[pick(b.length)] ^= 1 << pick(8); // one bit
    else if (kind === 4) b = b.subarray(0, pick(b.length + 1)); // truncated
    else if (kind === 5) b = Buffer.concat([b, Buffer.from(Array.from({ length: 1 + pick(40) }, () => pick(256)))]); // extended
    else if (b.length > 2) {
      // A run of bytes removed or repeated, as a lying length would shift everything after it.
      const at = pick(b.length);
      const n = 1 + pick(Math.min(16, b.length - at));
      b = rand() < 0.5 ? Buffer.concat([b.subarray(0, at), b.subarray(at + n)]) : Buffer.concat([b.subarray(0, at + n), b.subarray(at)]);
    }
  }
  // Most of the time keep the TPKT length honest, or the outer check would stop every mutation at the door.
  if (b.length >= 4 && b.length <= 0xffff && b[0] === 3 && rand() < 0.7) b.writeUInt16BE(b.length, 2);
  return b;
}

function onlyProtocolErrors(name: string, fn: () => unknown, input: Buffer, where: string): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof rdp.RdpProtocolError) return;
    assert.fail(`${name} threw ${(e as Error)?.name}: ${(e as Error)?.message} on ${where} (input ${input.toString('hex').slice(0, 200)})`);
  }
}

describe('protocol fuzz', () => {
  test('mutated frames reach every parser and rewriter: only RdpProtocolError, never a hang', { timeout: 20_000 }, () => {
    const rand = prng(SEED);
    const perSample = 1500;
    let accepted = 0;
    let calls = 0;
    for (const [sample, frame, parsers] of SAMPLES) {
      for (let i = 0; i < perSample; i++) {
        const input = mutate(frame, rand);
        const targets: [string, Parse][] = i % 10 === 0 ? FRAME_PARSERS : parsers.map((p) => [FRAME_PARSERS.find(([, f]) => f === p)![0], p]);
        for (const [name, fn] of targets) {
          calls++;
          try {
            fn(input);
            accepted++;
          } catch (e) {
            if (!(e instanceof rdp.RdpProtocolError)) onlyProtocolErrors(name, () => fn(input), input, `seed ${SEED}, ${sample}, case ${i}`);
          }
        }
      }
    }
    // The mutations are not all trivially rejected: some still parse (a changed byte inside a name or bitmap).
    assert.ok(accepted > calls / 20, `${accepted} of ${calls} calls accepted`);
  });

  test('mutated Client Info and Confirm Active data through their parsers and rebuilders', { timeout: 20_000 }, () => {
    const rand = prng(SEED + 1);
    for (const i of [21, 24]) {
      const pdu = rdp.parseDomainPdu(hex(FREERDP_SESSION[i]!.hex));
      assert.ok(pdu.type === 'sendDataRequest');
      for (let k = 0; k < 1500; k++) {
        const input = mutate(pdu.data, rand);
        onlyProtocolErrors('dataContents', () => dataContents(input), input, `seed ${SEED + 1}, frame ${i}, case ${k}`);
      }
    }
  });

  test('generated Confirm and Demand Actives (random sets, short order, offscreen and bitmap sets) through the rewrite and the parser', { timeout: 20_000 }, () => {
    // Blind mutation rarely yields a consistent set list with a short order set; build such lists directly.
    const rand = prng(SEED + 3);
    const pick = (n: number) => Math.floor(rand() * n);
    const types = [rdp.CAPSETTYPE_ORDER, rdp.CAPSETTYPE_OFFSCREENCACHE, rdp.CAPSETTYPE_BITMAP, rdp.CAPSETTYPE_BITMAP_CODECS, rdp.CAPSETTYPE_SURFACE_COMMANDS, rdp.CAPSETTYPE_DRAWNINEGRIDCACHE, rdp.CAPSETTYPE_GENERAL];
    for (let k = 0; k < 2000; k++) {
      const sets = Array.from({ length: pick(12) }, () => {
        const type = rand() < 0.8 ? types[pick(types.length)]! : pick(0x10000);
        const bytes = Buffer.alloc(4 + pick(100), pick(256));
        bytes.writeUInt16LE(type, 0);
        bytes.writeUInt16LE(bytes.length, 2);
        return { type, bytes };
      });
      const data = rdp.buildConfirmActive({ pduSource: 1007, shareId: 0x103ea, originatorId: 0x3ea, sourceDescriptor: Buffer.from('MSTSC'), capabilitySets: sets });
      onlyProtocolErrors('rewriteConfirmActive', () => rdp.rewriteConfirmActive(data), data, `seed ${SEED + 3}, case ${k}`);
      // The same sets as a Demand Active: no originatorId, a sessionId after the sets.
      const demand = Buffer.concat([data.subarray(0, 10), data.subarray(12), Buffer.alloc(4)]);
      demand.writeUInt16LE(demand.length, 0);
      demand.writeUInt16LE(0x11, 2);
      onlyProtocolErrors('parseDemandActive', () => rdp.parseDemandActive(demand), demand, `seed ${SEED + 3}, case ${k}`);
    }
  });

  test('FrameReader fed a mutated stream in random chunks: frames or RdpProtocolError, and a bound on what it holds', { timeout: 20_000 }, () => {
    const rand = prng(SEED + 2);
    const stream = Buffer.concat(FREERDP_SESSION.map((f) => hex(f.hex)));
    for (let k = 0; k < 200; k++) {
      const input = mutate(stream.subarray(0, 4000), rand);
      const reader = new rdp.FrameReader({ maxFrame: 9000 });
      try {
        for (let at = 0; at < input.length; ) {
          const n = 1 + Math.floor(rand() * 700);
          for (const f of reader.push(input.subarray(at, at + n))) assert.ok(f.bytes.length <= 9000);
          at += n;
        }
        assert.ok(reader.buffered < 9000);
      } catch (e) {
        if (!(e instanceof rdp.RdpProtocolError)) throw e;
      }
    }
  });
});
