// The hand-written DER of TSRequest, TSCredentials and a certificate's SubjectPublicKey.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DerError, frameLength, integer } from '../../../../daemons/rdp-proxy/credssp/der.js';
import { decodeTsRequest, encodeTsPasswordCredentials, encodeTsRequest } from '../../../../daemons/rdp-proxy/credssp/tsrequest.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('a TSRequest with every field survives encode and decode', () => {
  const r = { version: 6, negoToken: Buffer.alloc(300, 7), authInfo: hex('aa'), pubKeyAuth: hex('bbcc'), errorCode: 0xc000006d, clientNonce: Buffer.alloc(32, 1) };
  const der = encodeTsRequest(r);
  assert.equal(frameLength(der), der.length);
  assert.deepEqual(decodeTsRequest(der), r);
});

test('the NEGOTIATE TSRequest has the shape MS-CSSP gives it', () => {
  // SEQUENCE { [0] INTEGER 6, [1] SEQUENCE OF SEQUENCE { [0] OCTET STRING 'N' } }
  assert.equal(encodeTsRequest({ version: 6, negoToken: Buffer.from('N') }).toString('hex'), '3010' + 'a003020106' + 'a109' + '3007' + '3005' + 'a003' + '04014e');
});

test("INTEGERs are minimal two's complement; an NTSTATUS decodes unsigned whether sent signed or not", () => {
  assert.equal(integer(0).toString('hex'), '020100');
  assert.equal(integer(127).toString('hex'), '02017f');
  assert.equal(integer(128).toString('hex'), '02020080');
  assert.equal(integer(-1).toString('hex'), '0201ff');
  assert.equal(integer(0xc000006d).toString('hex'), '020500c000006d');
  // SEQUENCE { [0] INTEGER 6, [4] INTEGER 0xc000006d }, unsigned (5 bytes) and signed (4 bytes).
  assert.equal(decodeTsRequest(hex('300e a003020106 a407020500c000006d')).errorCode, 0xc000006d);
  assert.equal(decodeTsRequest(hex('300d a003020106 a4060204c000006d')).errorCode, 0xc000006d);
});

test('TSCredentials: credType 1 around TSPasswordCreds of UTF-16LE strings', () => {
  const der = encodeTsPasswordCredentials(Buffer.from('D', 'utf16le'), Buffer.from('U', 'utf16le'), Buffer.from('P', 'utf16le'));
  // SEQUENCE { [0] INTEGER 1, [1] OCTET STRING (SEQUENCE { [0] 'D', [1] 'U', [2] 'P' }) }
  assert.equal(der.toString('hex'), '301d' + 'a003020101' + 'a116' + '0414' + '3012' + 'a00404024400' + 'a10404025500' + 'a20404025000');
});

test('malformed TSRequests are DerErrors, never reads past the buffer', () => {
  for (const bad of ['', '30', '3001', '3080', '3085010000000000', '3003a00102', '3005a003020106ff', '3005a3030401', '3003a00101', '3008a106300430020400', '04020000']) {
    assert.throws(() => decodeTsRequest(hex(bad)), (e: unknown) => e instanceof DerError, bad);
  }
});
