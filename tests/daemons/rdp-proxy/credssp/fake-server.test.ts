// CredSSP against small TLS servers written here: an honest one speaking each server version 2..6 (it checks
// the NTLM proof, the MIC and the public-key binding, and reads back the credentials), and dishonest ones
// (garbage, an errorCode, a binding to another key, a hang up, silence).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { credsspAuthenticate, CredSspError } from '../../../../daemons/rdp-proxy/credssp/index.js';
import { children, frameLength, readTlv } from '../../../../daemons/rdp-proxy/credssp/der.js';
import { NtlmChannel, ntowfv2, sealKey, signKey } from '../../../../daemons/rdp-proxy/credssp/ntlm.js';
import { rc4Once } from '../../../../daemons/rdp-proxy/credssp/rc4.js';
import { decodeTsRequest, encodeTsRequest, subjectPublicKey, type TsRequest } from '../../../../daemons/rdp-proxy/credssp/tsrequest.js';

/** A hang fails the test instead of stalling the run. */
const T = { timeout: 30_000 };
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const PASSWORD = 'Vaulted-pa55!';
const CREDS = { domain: 'LAB', user: 'Administrator', password: PASSWORD };

let dir: string;
let rsa: { key: Buffer; cert: Buffer };
let ec: { key: Buffer; cert: Buffer };

function selfSigned(name: string, keyArgs: string[]): { key: Buffer; cert: Buffer } {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.crt`);
  execFileSync('openssl', ['req', '-x509', ...keyArgs, '-nodes', '-keyout', key, '-out', cert, '-subj', `/CN=${name}`, '-days', '2'], { stdio: 'ignore' });
  return { key: readFileSync(key), cert: readFileSync(cert) };
}

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'warden-credssp-fake-'));
  rsa = selfSigned('rsa', ['-newkey', 'rsa:2048']);
  ec = selfSigned('ec', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
});

after(() => rmSync(dir, { recursive: true, force: true }));

/** Reads whole DER frames off a socket. */
function framer(sock: tls.TLSSocket): () => Promise<Buffer> {
  let buf = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  let closed = false;
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    wake?.();
  });
  sock.on('close', () => {
    closed = true;
    wake?.();
  });
  sock.on('error', () => {});
  return async () => {
    for (;;) {
      const n = frameLength(buf);
      if (n !== null && buf.length >= n) {
        const f = buf.subarray(0, n);
        buf = buf.subarray(n);
        return f;
      }
      if (closed) throw new Error('client closed');
      await new Promise<void>((r) => (wake = r));
    }
  };
}

type Handler = (sock: tls.TLSSocket, next: () => Promise<Buffer>) => Promise<void>;

/** A TLS server running `handler` for each connection; returns its port and a closer. */
interface FakeServer {
  port: number;
  /** What the server's own checks threw (it hangs up then, which the client sees as a refusal). */
  error: () => unknown;
  close: () => Promise<void>;
}

async function fakeServer(handler: Handler, pair = rsa): Promise<FakeServer> {
  const sockets = new Set<tls.TLSSocket>();
  let error: unknown;
  const server = tls.createServer({ key: pair.key, cert: pair.cert }, (sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    handler(sock, framer(sock)).catch((e: unknown) => {
      error = e;
      sock.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    error: () => error,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

async function connect(port: number): Promise<tls.TLSSocket> {
  const sock = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => sock.once('secureConnect', resolve).once('error', reject));
  return sock;
}

async function expectFailure(port: number, reason: string, opts: { timeoutMs?: number } = {}): Promise<CredSspError> {
  const sock = await connect(port);
  const listeners = () => ['readable', 'end', 'close', 'error'].map((ev) => sock.listenerCount(ev));
  const before = listeners();
  try {
    let caught: unknown;
    await credsspAuthenticate(sock, CREDS, { timeoutMs: opts.timeoutMs ?? 5000 }).catch((e) => (caught = e));
    assert.ok(caught instanceof CredSspError, `expected a CredSspError, got ${String(caught)}`);
    assert.equal(caught.reason, reason, caught.message);
    assert.ok(!caught.message.includes(PASSWORD), 'no password in the message');
    assert.deepEqual(listeners(), before, 'listeners removed');
    return caught;
  } finally {
    sock.destroy();
  }
}

/** Logs in against an honest server; a failure names what the server found wrong, if anything. */
async function login(srv: FakeServer, sock: tls.TLSSocket): Promise<void> {
  try {
    await credsspAuthenticate(sock, CREDS, { timeoutMs: 5000 });
  } catch (e) {
    throw new Error(`${String(e)}; the server said: ${String(srv.error())}`);
  }
}

// --- The honest server -------------------------------------------------------------------------------------

/**
 * MS-NLMP 4.2.4's CHALLENGE (flags e28a8233, AV pairs Domain/Server) with a timestamp pair, so a MIC is due;
 * `plain`: without the timestamp (no MIC) and without key exchange (the session key is the base key).
 */
function challengeMessage(serverChallenge: Buffer, plain = false): Buffer {
  const info = plain
    ? hex('02000c0044006f006d00610069006e00 01000c00530065007200760065007200 00000000')
    : hex('02000c0044006f006d00610069006e00 01000c00530065007200760065007200 0700080000a0b1c2d3e4f501 00000000');
  const head = hex('4e544c4d53535000 02000000 0c000c00 38000000 33828ae2 0000000000000000 0000000000000000 00000000 44000000 060070170000000f 530065007200760065007200');
  serverChallenge.copy(head, 24);
  head.writeUInt16LE(info.length, 40);
  head.writeUInt16LE(info.length, 42);
  if (plain) head.writeUInt32LE(0xa28a8233, 20);
  return Buffer.concat([head, info]);
}

const field = (m: Buffer, at: number) => m.subarray(m.readUInt32LE(at + 4), m.readUInt32LE(at + 4) + m.readUInt16LE(at));
const sha256 = (...p: Buffer[]) => p.reduce((h, b) => h.update(b), createHash('sha256')).digest();
const hmacMd5 = (k: Buffer, ...p: Buffer[]) => p.reduce((h, b) => h.update(b), createHmac('md5', k)).digest();

interface Seen {
  clientVersion?: number;
  nonce?: Buffer;
  binding?: 'hash' | 'echo';
  credentials?: { domain: string; user: string; password: string };
}

/**
 * A CredSSP server of `version` that knows PASSWORD. `answerKey` lets it bind to another public key (what a
 * man in the middle with its own certificate would have to do); `trailing` is written right after its last
 * TSRequest, as the start of the next protocol.
 */
function honest(version: number, seen: Seen, opts: { answerKey?: Buffer; trailing?: Buffer; pair?: { cert: Buffer }; plain?: boolean } = {}): Handler {
  return async (sock, next) => {
    const spk = subjectPublicKey(new X509Certificate((opts.pair ?? rsa).cert).raw);
    const negotiate = decodeTsRequest(await next());
    seen.clientVersion = negotiate.version;
    assert.equal(negotiate.negoToken!.readUInt32LE(8), 1);
    const serverChallenge = randomBytes(8);
    const challenge = challengeMessage(serverChallenge, opts.plain);
    sock.write(encodeTsRequest({ version, negoToken: challenge }));

    const auth = decodeTsRequest(await next());
    const m = auth.negoToken!;
    const nt = field(m, 20);
    const user = field(m, 36).toString('utf16le');
    const domain = field(m, 28).toString('utf16le');
    const key = ntowfv2(PASSWORD, user, domain);
    const proof = hmacMd5(key, serverChallenge, nt.subarray(16));
    if (!proof.equals(nt.subarray(0, 16))) return void sock.destroy(); // what FreeRDP does with a wrong password
    const flags = m.readUInt32LE(60);
    const sessionBaseKey = hmacMd5(key, proof);
    const exported = flags & 0x40000000 ? rc4Once(sessionBaseKey, field(m, 52)) : sessionBaseKey;
    const zeroed = Buffer.from(m);
    zeroed.fill(0, 72, 88);
    const mic = opts.plain ? Buffer.alloc(16) : hmacMd5(exported, negotiate.negoToken!, challenge, zeroed);
    assert.deepEqual(m.subarray(72, 88), mic, 'MIC');
    const fromClient = new NtlmChannel(signKey(exported, 'client'), sealKey(flags, exported, 'client'));
    const toClient = new NtlmChannel(signKey(exported, 'server'), sealKey(flags, exported, 'server'));
    const pub = fromClient.unseal(auth.pubKeyAuth!.subarray(0, 16), auth.pubKeyAuth!.subarray(16));
    const boundKey = opts.answerKey ?? spk;
    let answer: Buffer;
    if (version >= 5) {
      assert.ok(auth.clientNonce && auth.clientNonce.length === 32, 'a 32-byte client nonce');
      assert.deepEqual(pub, sha256(Buffer.from('CredSSP Client-To-Server Binding Hash\0'), auth.clientNonce, spk));
      seen.binding = 'hash';
      seen.nonce = auth.clientNonce;
      answer = sha256(Buffer.from('CredSSP Server-To-Client Binding Hash\0'), auth.clientNonce, boundKey);
    } else {
      assert.deepEqual(pub, spk);
      seen.binding = 'echo';
      answer = Buffer.from(boundKey);
      answer[0] = (answer[0]! + 1) & 0xff;
    }
    const sealed = toClient.seal(answer);
    const reply = encodeTsRequest({ version, pubKeyAuth: Buffer.concat([sealed.signature, sealed.sealed]) });
    sock.write(opts.trailing ? Buffer.concat([reply, opts.trailing]) : reply);

    const creds = decodeTsRequest(await next());
    const plain = fromClient.unseal(creds.authInfo!.subarray(0, 16), creds.authInfo!.subarray(16));
    // TSCredentials { [0] credType, [1] OCTET STRING (TSPasswordCreds { [0] domain, [1] user, [2] password }) }
    const top = readTlv(plain, 0);
    const [typeField, credField] = children(plain, top);
    assert.deepEqual(plain.subarray(typeField!.start, typeField!.end), hex('020101'), 'credType 1: password');
    const octets = readTlv(plain, credField!.start);
    const pwc = Buffer.from(plain.subarray(octets.start, octets.end));
    const parts = children(pwc, readTlv(pwc, 0)).map((f) => {
      const o = readTlv(pwc, f.start);
      return pwc.subarray(o.start, o.end).toString('utf16le');
    });
    seen.credentials = { domain: parts[0]!, user: parts[1]!, password: parts[2]! };
  };
}

for (const version of [2, 3, 4, 5, 6]) {
  test(`server version ${version}: ${version >= 5 ? 'nonce and SHA-256 binding hashes' : 'the public key echoed, first byte + 1'}, then the credentials`, T, async () => {
    const seen: Seen = {};
    const srv = await fakeServer(honest(version, seen));
    const sock = await connect(srv.port);
    try {
      await login(srv, sock);
      await new Promise((r) => setTimeout(r, 100)); // the server reads the last message
      assert.equal(seen.clientVersion, 6);
      assert.equal(seen.binding, version >= 5 ? 'hash' : 'echo');
      assert.deepEqual(seen.credentials, CREDS, String(srv.error()));
    } finally {
      sock.destroy();
      await srv.close();
    }
  });
}

test('a server without key exchange or timestamp (no MIC): the session key is the base key, and it works', T, async () => {
  const seen: Seen = {};
  const srv = await fakeServer(honest(6, seen, { plain: true }));
  const sock = await connect(srv.port);
  try {
    await login(srv, sock);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(seen.credentials, CREDS, String(srv.error()));
  } finally {
    sock.destroy();
    await srv.close();
  }
});

test('an EC server key binds too (SubjectPublicKey read from the certificate itself)', T, async () => {
  const seen: Seen = {};
  const srv = await fakeServer(honest(6, seen, { pair: ec }), ec);
  const sock = await connect(srv.port);
  try {
    await login(srv, sock);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(seen.credentials, CREDS, String(srv.error()));
  } finally {
    sock.destroy();
    await srv.close();
  }
});

test('SubjectPublicKey of an RSA certificate is its PKCS#1 RSAPublicKey', T, () => {
  const cert = new X509Certificate(rsa.cert);
  assert.deepEqual(subjectPublicKey(cert.raw), cert.publicKey.export({ type: 'pkcs1', format: 'der' }));
});

test('bytes the server sends after its last TSRequest stay in the socket for the caller, and a paused socket stays paused', T, async () => {
  const seen: Seen = {};
  const srv = await fakeServer(honest(6, seen, { trailing: Buffer.from('MCS-STARTS-HERE') }));
  const sock = await connect(srv.port);
  try {
    sock.pause();
    await login(srv, sock);
    await new Promise((r) => setImmediate(r));
    assert.equal(sock.readableFlowing, false);
    const rest = await new Promise<Buffer>((resolve) => {
      let got = Buffer.alloc(0);
      sock.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.length >= 15) resolve(got);
      });
      sock.resume();
    });
    assert.equal(rest.toString(), 'MCS-STARTS-HERE');
  } finally {
    sock.destroy();
    await srv.close();
  }
});

test('a socket already being read is refused up front', T, async () => {
  const srv = await fakeServer(async () => {});
  const sock = await connect(srv.port);
  try {
    sock.on('data', () => {});
    await assert.rejects(credsspAuthenticate(sock, CREDS), /already being read/);
  } finally {
    sock.destroy();
    await srv.close();
  }
});

// --- Dishonest servers -------------------------------------------------------------------------------------

test('a server binding to another public key (a TLS man in the middle) is a protocol failure, before any credential is sent', T, async () => {
  const seen: Seen = {};
  const other = subjectPublicKey(new X509Certificate(ec.cert).raw);
  const srv = await fakeServer(honest(6, seen, { answerKey: other }));
  try {
    const e = await expectFailure(srv.port, 'protocol');
    assert.match(e.message, /binding does not match/);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(seen.credentials, undefined);
  } finally {
    await srv.close();
  }
});

test('version 3: an echo of another key is refused the same way', T, async () => {
  const seen: Seen = {};
  const other = subjectPublicKey(new X509Certificate(ec.cert).raw);
  const srv = await fakeServer(honest(3, seen, { answerKey: other }));
  try {
    await expectFailure(srv.port, 'protocol');
    assert.equal(seen.credentials, undefined);
  } finally {
    await srv.close();
  }
});

test('a TSRequest errorCode is "refused", with the NTSTATUS in the message', T, async () => {
  const srv = await fakeServer(async (sock, next) => {
    await next();
    sock.write(encodeTsRequest({ version: 6, errorCode: 0xc000006d }));
  });
  try {
    const e = await expectFailure(srv.port, 'refused');
    assert.match(e.message, /0xc000006d/);
  } finally {
    await srv.close();
  }
});

test('a server that hangs up during NTLM refused the login', T, async () => {
  const srv = await fakeServer(async (sock, next) => {
    await next();
    sock.end();
  });
  try {
    await expectFailure(srv.port, 'refused');
  } finally {
    await srv.close();
  }
});

test('a server that never answers is a timeout, on time', T, async () => {
  const srv = await fakeServer(async () => {});
  try {
    const t0 = Date.now();
    await expectFailure(srv.port, 'timeout', { timeoutMs: 300 });
    assert.ok(Date.now() - t0 < 3000);
  } finally {
    await srv.close();
  }
});

test('a server that stops halfway through a TSRequest is a timeout too', T, async () => {
  const srv = await fakeServer(async (sock, next) => {
    await next();
    sock.write(encodeTsRequest({ version: 6, negoToken: challengeMessage(randomBytes(8)) }).subarray(0, 20));
  });
  try {
    await expectFailure(srv.port, 'timeout', { timeoutMs: 300 });
  } finally {
    await srv.close();
  }
});

const garbage: Array<[string, (challenge: Buffer) => Buffer]> = [
  ['not DER at all', () => Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')],
  ['a SEQUENCE announcing 2 GB', () => hex('30847fffffff')],
  ['an indefinite length', () => hex('3080a003020106')],
  ['a field overrunning its SEQUENCE', () => hex('3005a0050201060000')],
  ['fields out of order', () => hex('300aa103300100a003020106')],
  ['no version', () => hex('3004a2020400')],
  ['no negoToken', () => encodeTsRequest({ version: 6 })],
  ['a negoToken that is not an NTLM CHALLENGE', () => encodeTsRequest({ version: 6, negoToken: Buffer.from('NTLMSSP\0\x01\0\0\0') })],
  ['version 1', (c) => encodeTsRequest({ version: 1, negoToken: c })],
  ['a CHALLENGE whose target info overruns', (c) => {
    const bad = Buffer.from(c);
    bad.writeUInt16LE(0x7fff, 40);
    return encodeTsRequest({ version: 6, negoToken: bad });
  }],
  ['a CHALLENGE without 128-bit keys', (c) => {
    const bad = Buffer.from(c);
    bad.writeUInt32LE((bad.readUInt32LE(20) & ~0x20000000) >>> 0, 20);
    return encodeTsRequest({ version: 6, negoToken: bad });
  }],
  ['a CHALLENGE without sealing', (c) => {
    const bad = Buffer.from(c);
    bad.writeUInt32LE((bad.readUInt32LE(20) & ~0x20) >>> 0, 20);
    return encodeTsRequest({ version: 6, negoToken: bad });
  }],
];

for (const [what, make] of garbage) {
  test(`a server answering ${what} is a protocol failure`, T, async () => {
    const srv = await fakeServer(async (sock, next) => {
      await next();
      sock.write(make(challengeMessage(randomBytes(8))));
    });
    try {
      await expectFailure(srv.port, 'protocol');
    } finally {
      await srv.close();
    }
  });
}

test('a garbled public-key answer (bad signature, or none) is a protocol failure', T, async () => {
  for (const answer of [randomBytes(16 + 32), undefined]) {
    const srv = await fakeServer(async (sock, next) => {
      await next();
      sock.write(encodeTsRequest({ version: 6, negoToken: challengeMessage(randomBytes(8)) }));
      await next();
      const r: TsRequest = { version: 6 };
      if (answer) r.pubKeyAuth = answer;
      sock.write(encodeTsRequest(r));
    });
    try {
      await expectFailure(srv.port, 'protocol');
    } finally {
      await srv.close();
    }
  }
});

test('fuzz: 150 random replies, well-framed or not, each end in a CredSspError and never hang', T, async () => {
  let i = 0;
  const replies: Buffer[] = [];
  for (let k = 0; k < 150; k++) {
    const body = randomBytes(Math.floor(Math.random() * 120));
    // Half start like a TSRequest with a plausible length, half are raw bytes.
    if (k % 2 === 0) replies.push(Buffer.concat([Buffer.from([0x30, body.length]), body]));
    else {
      // Mutate a real reply: flip a few bytes of a valid CHALLENGE TSRequest.
      const good = encodeTsRequest({ version: 6, negoToken: challengeMessage(randomBytes(8)) });
      for (let f = 0; f < 3; f++) good[Math.floor(Math.random() * good.length)] = Math.floor(Math.random() * 256);
      replies.push(good);
    }
  }
  const srv = await fakeServer(async (sock, next) => {
    await next();
    sock.write(replies[i++]!);
    await next(); // a mutated CHALLENGE may still be accepted: then the answer to AUTHENTICATE is silence
  });
  try {
    const reasons = new Map<string, number>();
    for (let k = 0; k < replies.length; k++) {
      const sock = await connect(srv.port);
      try {
        const e = await credsspAuthenticate(sock, CREDS, { timeoutMs: 300 }).then(
          () => new Error('resolved'),
          (x: unknown) => x,
        );
        assert.ok(e instanceof CredSspError, `reply ${replies[k]!.toString('hex')}: ${String(e)}`);
        reasons.set(e.reason, (reasons.get(e.reason) ?? 0) + 1);
      } finally {
        sock.destroy();
      }
    }
    assert.ok((reasons.get('protocol') ?? 0) > 50, JSON.stringify([...reasons]));
  } finally {
    await srv.close();
  }
});
