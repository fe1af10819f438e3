// CredSSP against a real NLA server (FreeRDP's shadow server with a SAM file): the right credential gets the
// connection through to MCS, a wrong password or user is 'refused'.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { credsspAuthenticate, CredSspError } from '../../../../daemons/rdp-proxy/credssp/index.js';
import { startNlaTarget, type NlaTarget } from '../../../helpers/rdp-nla-target.js';

/** A hang fails the test instead of stalling the run. */
const T = { timeout: 30_000 };
const USER = 'vaulted';
const PASSWORD = 'Corr3ct-horse!';
const PROTOCOL_HYBRID = 2;

let dir: string;
let target: NlaTarget;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'warden-credssp-'));
  target = await startNlaTarget(dir, USER, PASSWORD);
});

after(async () => {
  await target?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Reads exactly `n` bytes (or one whole TPKT when n is 'tpkt') from a socket in paused mode. */
function readExactly(s: net.Socket | tls.TLSSocket, n: number | 'tpkt', timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const done = (e: Error | null, b?: Buffer) => {
      clearTimeout(t);
      s.removeListener('readable', onReadable);
      s.removeListener('close', onClose);
      if (e) reject(e);
      else resolve(b!);
    };
    const t = setTimeout(() => done(new Error(`no ${n} bytes within ${timeoutMs} ms (got ${buf.length})`)), timeoutMs);
    const onClose = () => done(new Error(`closed after ${buf.length} bytes`));
    const onReadable = () => {
      let c: Buffer | null;
      while ((c = s.read() as Buffer | null) !== null) buf = Buffer.concat([buf, c]);
      const want = n === 'tpkt' ? (buf.length >= 4 ? buf.readUInt16BE(2) : Infinity) : n;
      if (buf.length >= want) {
        if (buf.length > want) s.unshift(buf.subarray(want));
        done(null, buf.subarray(0, want));
      }
    };
    s.on('readable', onReadable);
    s.on('close', onClose);
    onReadable();
  });
}

/** TCP, X.224 Connection Request asking for HYBRID (19 bytes), Connection Confirm, TLS. */
async function hybridTls(port: number): Promise<tls.TLSSocket> {
  const tcp = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => tcp.once('connect', resolve).once('error', reject));
  // TPKT(19) | X.224 CR (LI 14, no cookie) | RDP_NEG_REQ requestedProtocols = SSL|HYBRID.
  tcp.write(Buffer.from('030000130ee000000000000100080003000000', 'hex'));
  const cc = await readExactly(tcp, 19);
  assert.equal(cc[5], 0xd0, 'X.224 Connection Confirm');
  assert.equal(cc[11], 0x02, 'RDP_NEG_RSP');
  assert.equal(cc.readUInt32LE(15), PROTOCOL_HYBRID, 'the server selected HYBRID');
  const sock = tls.connect({ socket: tcp, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => sock.once('secureConnect', resolve).once('error', reject));
  return sock;
}

/** A minimal MCS Connect-Initial (T.125 BER around a T.124 GCC Conference Create Request with core, security, net data). */
function connectInitial(selectedProtocol: number): Buffer {
  const core = Buffer.alloc(216);
  let o = 0;
  o = core.writeUInt16LE(0xc001, o);
  o = core.writeUInt16LE(216, o);
  o = core.writeUInt32LE(0x00080004, o);
  o = core.writeUInt16LE(1024, o);
  o = core.writeUInt16LE(768, o);
  o = core.writeUInt16LE(0xca01, o);
  o = core.writeUInt16LE(0xaa03, o);
  o = core.writeUInt32LE(0x409, o);
  o = core.writeUInt32LE(2600, o);
  Buffer.from('WARDEN', 'utf16le').copy(core, o);
  o += 32;
  o = core.writeUInt32LE(4, o);
  o = core.writeUInt32LE(0, o);
  o = core.writeUInt32LE(12, o);
  o += 64; // imeFileName
  o = core.writeUInt16LE(0xca01, o);
  o = core.writeUInt16LE(1, o);
  o = core.writeUInt32LE(0, o);
  o = core.writeUInt16LE(24, o); // highColorDepth
  o = core.writeUInt16LE(0x000f, o); // supportedColorDepths
  o = core.writeUInt16LE(0x0001, o); // earlyCapabilityFlags: RNS_UD_CS_SUPPORT_ERRINFO_PDU
  o += 64; // clientDigProductId
  o += 2; // connectionType, pad1octet
  core.writeUInt32LE(selectedProtocol, o);
  const security = Buffer.from('02c00c000000000000000000', 'hex');
  const netData = Buffer.from('03c0080000000000', 'hex');
  const blocks = Buffer.concat([core, security, netData]);
  const per2 = (n: number) => Buffer.from([0x80 | (n >> 8), n & 0xff]);
  const gcc = Buffer.concat([
    Buffer.from('00050014 7c0001'.replace(/ /g, ''), 'hex'),
    per2(14 + blocks.length),
    Buffer.from('000800100001c000 44756361'.replace(/ /g, ''), 'hex'),
    per2(blocks.length),
    blocks,
  ]);
  const ber = (tag: Buffer, body: Buffer) => Buffer.concat([tag, Buffer.from([0x82, body.length >> 8, body.length & 0xff]), body]);
  const params = (hex: string) => Buffer.from(hex.replace(/ /g, ''), 'hex');
  const mcs = ber(
    Buffer.from([0x7f, 0x65]),
    Buffer.concat([
      params('040101 040101 0101ff'),
      params('3019 020122 020102 020100 020101 020100 020101 0202ffff 020102'),
      params('3019 020101 020101 020101 020101 020100 020101 02020420 020102'),
      params('301c 0202ffff 0202fc17 0202ffff 020101 020100 020101 0202ffff 020102'),
      ber(Buffer.from([0x04]), gcc),
    ]),
  );
  const x224 = Buffer.concat([Buffer.from([0x02, 0xf0, 0x80]), mcs]);
  const tpkt = Buffer.from([0x03, 0x00, 0, 0]);
  tpkt.writeUInt16BE(4 + x224.length, 2);
  return Buffer.concat([tpkt, x224]);
}

test('the right credential logs in: the server then answers MCS Connect-Initial with a successful Connect-Response', T, async () => {
  const sock = await hybridTls(target.port);
  try {
    await credsspAuthenticate(sock, { domain: '', user: USER, password: PASSWORD }, { timeoutMs: 10_000 });
    assert.equal(sock.listenerCount('readable'), 0, 'no listener left behind');
    // Node restores "no consumer yet" on the tick after the last 'readable' listener goes.
    await new Promise((r) => setImmediate(r));
    assert.equal(sock.readableFlowing, null, 'the socket is left unread, as it was found');
    sock.write(connectInitial(PROTOCOL_HYBRID));
    const reply = await readExactly(sock, 'tpkt');
    assert.deepEqual([...reply.subarray(4, 9)], [0x02, 0xf0, 0x80, 0x7f, 0x66], 'X.224 Data carrying an MCS Connect-Response');
    // After the BER length: result ENUMERATED rt-successful (0).
    const lenBytes = reply[9]! & 0x80 ? (reply[9]! & 0x7f) + 1 : 1;
    assert.deepEqual([...reply.subarray(9 + lenBytes, 9 + lenBytes + 3)], [0x0a, 0x01, 0x00]);
  } finally {
    sock.destroy();
  }
});

for (const [what, user, password] of [
  ['a wrong password', USER, 'Wr0ng-horse!'],
  ['an unknown user', 'nobody', PASSWORD],
] as const) {
  test(`${what} is refused`, T, async () => {
    const sock = await hybridTls(target.port);
    try {
      await assert.rejects(credsspAuthenticate(sock, { domain: '', user, password }, { timeoutMs: 10_000 }), (e: unknown) => {
        assert.ok(e instanceof CredSspError, String(e));
        assert.equal(e.reason, 'refused', e.message);
        assert.ok(!e.message.includes(password));
        return true;
      });
    } finally {
      sock.destroy();
    }
  });
}
