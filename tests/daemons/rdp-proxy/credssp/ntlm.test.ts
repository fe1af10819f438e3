// NTLMv2 against the test vectors of MS-NLMP section 4.2.4 (user "User", domain "Domain", password "Password",
// server challenge 0123456789abcdef, client challenge aa*8, random session key 55*16, time 0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { NtlmChannel, authenticate, negotiateMessage, ntowfv2, parseAvPairs, parseChallenge, sealKey, signKey, v2Responses } from '../../../../daemons/rdp-proxy/credssp/ntlm.js';
import { Rc4, rc4Once } from '../../../../daemons/rdp-proxy/credssp/rc4.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const SERVER_CHALLENGE = hex('0123456789abcdef');
const CLIENT_CHALLENGE = hex('aaaaaaaaaaaaaaaa');
const RANDOM_SESSION_KEY = hex('55555555555555555555555555555555');
const FLAGS = 0xe28a8233;
/** 4.2.4.3: the CHALLENGE_MESSAGE. */
const CHALLENGE = hex(`
  4e544c4d53535000 02000000 0c000c00 38000000 33828ae2 0123456789abcdef 0000000000000000 24002400 44000000
  060070170000000f 530065007200760065007200
  02000c0044006f006d00610069006e00 01000c00530065007200760065007200 00000000`);
/** 4.2.4.1.3: the AV pairs (Domain, Server) the client echoes. */
const TARGET_INFO = hex('02000c0044006f006d00610069006e0001000c005300650072007600650072000000 0000');
/** 4.2.4.1.3: "temp", time 0. */
const TEMP = Buffer.concat([hex('0101000000000000 0000000000000000 aaaaaaaaaaaaaaaa 00000000'), TARGET_INFO, hex('00000000')]);
const PLAINTEXT = Buffer.from('Plaintext', 'utf16le');
const FILETIME_ZERO = new Date(-11644473600000);

test('NTOWFv2 of Password/User/Domain is the 4.2.4.1.1 vector', () => {
  assert.equal(ntowfv2('Password', 'User', 'Domain').toString('hex'), '0c868a403bfd7a93a3001ef22ef02e3f');
});

test('NTOWFv2 upper-cases the user name one character at a time, as Windows does ("ß" stays, it does not become "SS")', () => {
  assert.deepEqual(ntowfv2('pw', 'straße', 'D'), ntowfv2('pw', 'STRAßE', 'D'));
  assert.notDeepEqual(ntowfv2('pw', 'straße', 'D'), ntowfv2('pw', 'STRASSE', 'D'));
  assert.deepEqual(ntowfv2('pw', 'émile', 'D'), ntowfv2('pw', 'ÉMILE', 'D'));
});

test('the LMv2 and NTLMv2 responses, NTProofStr and session base key are the 4.2.4.2 vectors', () => {
  const r = v2Responses(ntowfv2('Password', 'User', 'Domain'), SERVER_CHALLENGE, CLIENT_CHALLENGE, Buffer.alloc(8), TARGET_INFO, false);
  assert.equal(r.lmChallengeResponse.toString('hex'), '86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa');
  assert.equal(r.ntProofStr.toString('hex'), '68cd0ab851e51c96aabc927bebef6a1c');
  assert.deepEqual(r.ntChallengeResponse, Buffer.concat([r.ntProofStr, TEMP]));
  assert.equal(r.sessionBaseKey.toString('hex'), '8de40ccadbc14a82f15cb0ad0de95ca3');
});

test('the encrypted random session key, signing and sealing keys are the 4.2.4.2.3 vectors', () => {
  assert.equal(rc4Once(hex('8de40ccadbc14a82f15cb0ad0de95ca3'), RANDOM_SESSION_KEY).toString('hex'), 'c5dad2544fc9799094ce1ce90bc9d03e');
  assert.equal(signKey(RANDOM_SESSION_KEY, 'client').toString('hex'), '4788dc861b4782f35d43fd98fe1a2d39');
  assert.equal(sealKey(FLAGS, RANDOM_SESSION_KEY, 'client').toString('hex'), '59f600973cc4960a25480a7c196e4c58');
  // The server-side keys (not in 4.2.4; the same derivation with the other magic constants).
  assert.equal(signKey(RANDOM_SESSION_KEY, 'server').toString('hex'), 'd04d6f10741041d1d246d64188d7a8ad');
  assert.equal(sealKey(FLAGS, RANDOM_SESSION_KEY, 'server').toString('hex'), '9355f3a957c1583d25c4c2f11e40390e');
});

test('sealing "Plaintext" gives the 4.2.4.4 ciphertext and signature; the peer unseals it', () => {
  const make = () => new NtlmChannel(hex('4788dc861b4782f35d43fd98fe1a2d39'), hex('59f600973cc4960a25480a7c196e4c58'));
  const { sealed, signature } = make().seal(PLAINTEXT);
  assert.equal(sealed.toString('hex'), '54e50165bf1936dc996020c1811b0f06fb5f');
  assert.equal(signature.toString('hex'), '010000007fb38ec5c55d497600000000');
  assert.deepEqual(make().unseal(signature, sealed), PLAINTEXT);
  const flipped = Buffer.from(sealed);
  flipped[0]! ^= 1;
  assert.throws(() => make().unseal(signature, flipped), /does not verify/);
});

test('RC4 keeps its keystream across calls (a sealing handle spans messages)', () => {
  const key = hex('0102030405');
  const whole = new Rc4(key).update(Buffer.alloc(32));
  const c = new Rc4(key);
  assert.deepEqual(Buffer.concat([c.update(Buffer.alloc(10)), c.update(Buffer.alloc(22))]), whole);
  // RFC 6229's first keystream bytes for the 40-bit key 0102030405.
  assert.equal(whole.subarray(0, 16).toString('hex'), 'b2396305f03dc027ccc3524a0a1118a8');
});

test('the 4.2.4.3 CHALLENGE parses to its flags, challenge and target info', () => {
  const c = parseChallenge(CHALLENGE);
  assert.equal(c.flags, FLAGS);
  assert.deepEqual(c.serverChallenge, SERVER_CHALLENGE);
  assert.deepEqual(c.targetInfo, TARGET_INFO);
  assert.deepEqual(parseAvPairs(c.targetInfo).map(([id, v]) => [id, v.toString('utf16le')]), [[2, 'Domain'], [1, 'Server']]);
});

/** The payload of one AUTHENTICATE field (len, maxlen, offset at `at`). */
const fieldOf = (m: Buffer, at: number) => m.subarray(m.readUInt32LE(at + 4), m.readUInt32LE(at + 4) + m.readUInt16LE(at));

test('the AUTHENTICATE message for the 4.2.4 exchange carries the vector responses and session key', () => {
  const s = authenticate({
    negotiate: negotiateMessage(),
    challenge: CHALLENGE,
    user: 'User',
    domain: 'Domain',
    password: 'Password',
    workstation: 'COMPUTER',
    clientChallenge: CLIENT_CHALLENGE,
    exportedSessionKey: RANDOM_SESSION_KEY,
    now: FILETIME_ZERO,
  });
  const m = s.message;
  assert.equal(m.subarray(0, 12).toString('hex'), '4e544c4d5353500003000000');
  assert.equal(fieldOf(m, 12).toString('hex'), '86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa');
  assert.deepEqual(fieldOf(m, 20), Buffer.concat([hex('68cd0ab851e51c96aabc927bebef6a1c'), TEMP]));
  assert.equal(fieldOf(m, 28).toString('utf16le'), 'Domain');
  assert.equal(fieldOf(m, 36).toString('utf16le'), 'User');
  assert.equal(fieldOf(m, 44).toString('utf16le'), 'COMPUTER');
  assert.equal(fieldOf(m, 52).toString('hex'), 'c5dad2544fc9799094ce1ce90bc9d03e');
  assert.equal(m.readUInt32LE(60) & 0x40000000, 0x40000000, 'key exchange negotiated');
  assert.deepEqual(m.subarray(72, 88), Buffer.alloc(16), 'no MIC without a server timestamp');
  const { sealed, signature } = s.client.seal(PLAINTEXT);
  assert.equal(sealed.toString('hex'), '54e50165bf1936dc996020c1811b0f06fb5f');
  assert.equal(signature.toString('hex'), '010000007fb38ec5c55d497600000000');
});

test('with a server timestamp: the LM response is Z(24), MsvAvFlags announces a MIC, and the MIC covers all three messages', () => {
  // The 4.2.4 challenge with a timestamp pair (id 7) inserted before MsvAvEOL.
  const ts = hex('0700080000a0b1c2d3e4f501');
  const info = Buffer.concat([TARGET_INFO.subarray(0, TARGET_INFO.length - 4), ts, hex('00000000')]);
  const challenge = Buffer.concat([CHALLENGE.subarray(0, 68), info]);
  challenge.writeUInt16LE(info.length, 40);
  challenge.writeUInt16LE(info.length, 42);
  const negotiate = negotiateMessage();
  const s = authenticate({ negotiate, challenge, user: 'User', domain: 'Domain', password: 'Password', workstation: 'COMPUTER', clientChallenge: CLIENT_CHALLENGE, exportedSessionKey: RANDOM_SESSION_KEY });
  const m = s.message;
  assert.deepEqual(fieldOf(m, 12), Buffer.alloc(24));
  const nt = fieldOf(m, 20);
  assert.deepEqual(nt.subarray(24, 32), ts.subarray(4), "the server's timestamp, not ours");
  const pairs = parseAvPairs(nt.subarray(44));
  assert.deepEqual(pairs.find(([id]) => id === 6)?.[1], hex('02000000'));
  const zeroed = Buffer.from(m);
  zeroed.fill(0, 72, 88);
  assert.deepEqual(m.subarray(72, 88), createHmac('md5', RANDOM_SESSION_KEY).update(negotiate).update(challenge).update(zeroed).digest());
});

test('a CHALLENGE without extended session security or sealing, or with fields overrunning it, is refused', () => {
  const base = { negotiate: negotiateMessage(), user: 'User', domain: 'Domain', password: 'Password', workstation: 'W' };
  const noEss = Buffer.from(CHALLENGE);
  noEss.writeUInt32LE((FLAGS & ~0x00080000) >>> 0, 20);
  assert.throws(() => authenticate({ ...base, challenge: noEss }), /extended session security/);
  const overrun = Buffer.from(CHALLENGE);
  overrun.writeUInt16LE(0x400, 40);
  assert.throws(() => authenticate({ ...base, challenge: overrun }), /overruns/);
  assert.throws(() => authenticate({ ...base, challenge: CHALLENGE.subarray(0, 30) }), /not an NTLM CHALLENGE/);
  const noEol = Buffer.concat([CHALLENGE.subarray(0, 68), TARGET_INFO.subarray(0, 16)]);
  noEol.writeUInt16LE(16, 40);
  assert.throws(() => authenticate({ ...base, challenge: noEol }), /end marker|overruns/);
});
