// Client Info: a real client's login parses (the Warden login name and password the proxy authenticates), and
// the target's copy built from it carries the injected credential with the cb* lengths recomputed.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildClientInfo,
  clientInfoForTarget,
  COMPRESSION_TYPE_MASK,
  INFO_AUTOLOGON,
  INFO_COMPRESSION,
  INFO_MAXIMIZESHELL,
  INFO_UNICODE,
  isClientInfo,
  parseClientInfo,
  parseDomainPdu,
  RdpProtocolError,
  SEC_INFO_PKT,
  type ClientInfo,
} from '../../../../daemons/rdp-proxy/protocol/index.js';
import { FREERDP_SESSION, XRDP_FRAMES } from './captured-frames.js';

const refuses = (fn: () => unknown, re?: RegExp) => assert.throws(fn, (e: unknown) => e instanceof RdpProtocolError && (!re || re.test(e.message)));

function capturedInfoData(): Buffer {
  const pdu = parseDomainPdu(Buffer.from(FREERDP_SESSION[21]!.hex, 'hex'));
  assert.ok(pdu.type === 'sendDataRequest');
  return pdu.data;
}

describe('Client Info', () => {
  test('xfreerdp /d:CORP /u:alice@db01 /p:s3cret:123456: domain, user, password, Unicode, compression asked for', () => {
    const data = capturedInfoData();
    assert.ok(isClientInfo(data));
    const info = parseClientInfo(data);
    assert.deepEqual([info.domain, info.userName, info.password, info.alternateShell, info.workingDir], ['CORP', 'alice@db01', 's3cret:123456', '', '']);
    assert.equal(info.unicode, true);
    assert.equal(info.securityFlags, SEC_INFO_PKT);
    assert.ok(info.flags & INFO_COMPRESSION);
    assert.equal(info.extra.length, 272);
    // Built back unchanged, it is the same bytes.
    assert.deepEqual(buildClientInfo(info), data);
  });

  test('against xrdp: the Client Info is found, the licence PDUs either way (SEC_LICENSE_PKT) are not', () => {
    const data = (h: string) => {
      const pdu = parseDomainPdu(Buffer.from(h, 'hex'));
      assert.ok(pdu.type === 'sendDataRequest' || pdu.type === 'sendDataIndication');
      return pdu.data;
    };
    assert.ok(isClientInfo(data(XRDP_FRAMES.clientInfo)));
    assert.deepEqual([parseClientInfo(data(XRDP_FRAMES.clientInfo)).userName, parseClientInfo(data(XRDP_FRAMES.clientInfo)).password], ['alice@db01', 'pw']);
    for (const h of [XRDP_FRAMES.licenseRequest, XRDP_FRAMES.clientLicense, XRDP_FRAMES.licenseError]) assert.equal(isClientInfo(data(h)), false);
  });

  test('the target copy: new credential, cb* lengths recomputed, autologon and maximised shell on, compression off, the extended info kept', () => {
    const data = capturedInfoData();
    const original = parseClientInfo(data);
    const target = clientInfoForTarget(original, { domain: 'DB01', userName: 'Administrator', password: 'vaulted-Pässword-42' });
    const built = buildClientInfo(target);
    // cbDomain, cbUserName, cbPassword at 4+8, +10, +12 (after the security header, CodePage and flags): UTF-16 byte counts.
    assert.equal(built.readUInt16LE(12), 'DB01'.length * 2);
    assert.equal(built.readUInt16LE(14), 'Administrator'.length * 2);
    assert.equal(built.readUInt16LE(16), 'vaulted-Pässword-42'.length * 2);
    assert.equal(built.readUInt16LE(18), 0);
    assert.equal(built.readUInt16LE(20), 0);
    assert.equal(built.length, data.length + ('DB01Administratorvaulted-Pässword-42'.length - 'CORPalice@db01s3cret:123456'.length) * 2);
    const again = parseClientInfo(built);
    assert.deepEqual([again.domain, again.userName, again.password], ['DB01', 'Administrator', 'vaulted-Pässword-42']);
    assert.ok(again.flags & INFO_AUTOLOGON && again.flags & INFO_MAXIMIZESHELL && again.flags & INFO_UNICODE);
    assert.equal(again.flags & (INFO_COMPRESSION | COMPRESSION_TYPE_MASK), 0);
    assert.deepEqual(again.extra, original.extra);
    assert.equal(again.codePage, original.codePage);
    assert.ok(!built.includes(Buffer.from('s3cret', 'utf16le')), 'the Warden password is not in the target copy');
  });

  test('ANSI (no INFO_UNICODE) round trips with one-byte terminators; characters it cannot carry are refused', () => {
    const info: ClientInfo = { codePage: 1252, flags: INFO_AUTOLOGON, domain: 'D', userName: 'bob', password: 'pw', alternateShell: 'cmd', workingDir: 'C:\\', extra: Buffer.alloc(0), securityFlags: SEC_INFO_PKT, unicode: false };
    const built = buildClientInfo(info);
    assert.equal(built.length, 4 + 18 + (1 + 3 + 2 + 3 + 3) + 5);
    assert.deepEqual(parseClientInfo(built), { ...info, securityFlagsHi: 0 });
    refuses(() => buildClientInfo({ ...info, password: 'π' }), /ANSI/);
    refuses(() => buildClientInfo({ ...info, unicode: true, password: 'x'.repeat(257) }), /at most 512/);
  });

  test('encrypted, truncated, odd-length and oversized info packets are refused; other PDUs are not Client Info', () => {
    const data = capturedInfoData();
    const m = (f: (b: Buffer) => void) => {
      const b = Buffer.from(data);
      f(b);
      return b;
    };
    refuses(() => parseClientInfo(m((b) => b.writeUInt16LE(SEC_INFO_PKT | 0x0008, 0))), /encrypted/);
    refuses(() => parseClientInfo(m((b) => b.writeUInt16LE(0, 0))), /SEC_INFO_PKT/);
    refuses(() => parseClientInfo(m((b) => b.writeUInt16LE(9, 12))), /odd/);
    refuses(() => parseClientInfo(m((b) => b.writeUInt16LE(1000, 14))), /at most 512/);
    refuses(() => parseClientInfo(m((b) => b.writeUInt16LE(512, 16))), /truncated/);
    refuses(() => parseClientInfo(data.subarray(0, 30)), /truncated/);
    const confirmActive = parseDomainPdu(Buffer.from(FREERDP_SESSION[24]!.hex, 'hex'));
    assert.ok(confirmActive.type === 'sendDataRequest');
    assert.equal(isClientInfo(confirmActive.data), false);
    assert.equal(isClientInfo(Buffer.alloc(3)), false);
    // Every data PDU after it starts with a share control header; none of the captured ones looks like Client Info,
    // even one whose totalLength has the SEC_INFO_PKT bit (0x40) set.
    const later = FREERDP_SESSION.slice(22).filter((f) => f.kind === 'tpkt').map((f) => parseDomainPdu(Buffer.from(f.hex, 'hex')));
    const datas = later.flatMap((p) => (p.type === 'sendDataRequest' || p.type === 'sendDataIndication' ? [p.data] : []));
    assert.ok(datas.some((d) => d.length >= 22 && d.readUInt16LE(0) & SEC_INFO_PKT), 'a share PDU with the 0x40 bit in its totalLength');
    for (const d of datas) assert.equal(isClientInfo(d), false);
  });
});
