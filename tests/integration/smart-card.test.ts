// An A3 certificate: the user's key is generated on a PKCS#11 token (SoftHSM standing in for the smart
// card) and never leaves it. curl presents the certificate through OpenSSL's PKCS#11 engine (libp11),
// which signs the TLS handshake on the token, and completes password + certificate login.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { webcrypto } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initializedHome, strongPassword, tempDir, type InitializedHome } from '../helpers/fixtures.js';
import { ApiClient, ORBIT_MAIN, startWebDaemon, type RunningDaemon } from '../helpers/web-daemon.js';
import { createCa, issueLeaf } from '../helpers/pki.js';

const KEYGEN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'smart-card-keygen.js');

function engineLibrary(): string {
  for (const dir of readdirSync('/usr/lib')) {
    const p = path.join('/usr/lib', dir, 'engines-3', 'pkcs11.so');
    if (existsSync(p)) return p;
  }
  throw new Error('libengine-pkcs11-openssl is not installed');
}

describe('A3 smart card login with curl and the PKCS#11 engine', () => {
  let home: InitializedHome;
  let d: RunningDaemon;
  const card = tempDir('warden-card-');
  let env: NodeJS.ProcessEnv;
  let certFile: string;
  let privateReadable = true;
  const pin = '246810';

  before(async () => {
    home = await initializedHome();
    // The "card": its own SoftHSM token directory, initialized with Debian's softhsm2-util.
    mkdirSync(path.join(card.dir, 'tokens'));
    writeFileSync(path.join(card.dir, 'softhsm2.conf'), `directories.tokendir = ${path.join(card.dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    env = { ...process.env, SOFTHSM2_CONF: path.join(card.dir, 'softhsm2.conf') };
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'card', '--so-pin', '13579111', '--pin', pin], { env, stdio: 'ignore' });
    const out = JSON.parse(execFileSync(process.execPath, [KEYGEN, 'card', pin, 'alice-key'], { env, encoding: 'utf8' }));
    privateReadable = out.privateReadable;
    const publicKey = await webcrypto.subtle.importKey('raw', Buffer.from(out.point, 'hex'), { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);

    const root = await createCa('Card Root');
    const leaf = await issueLeaf(root, { commonName: 'alice', email: 'alice@example.test', publicKey });
    certFile = path.join(card.dir, 'alice.crt');
    writeFileSync(certFile, leaf.pem);
    writeFileSync(path.join(card.dir, 'root.pem'), root.pem);
    execFileSync(process.execPath, [ORBIT_MAIN, 'ca', 'install', path.join(card.dir, 'root.pem')], { env: { ...process.env, WARDEN_HOME: home.home, WARDEN_CONFIG: home.configFile, CI: 'true' } });
    // OpenSSL loads the engine and points it at SoftHSM through its own config file.
    writeFileSync(
      path.join(card.dir, 'openssl.cnf'),
      [
        'openssl_conf = openssl_init',
        '[openssl_init]',
        'engines = engine_section',
        '[engine_section]',
        'pkcs11 = pkcs11_section',
        '[pkcs11_section]',
        'engine_id = pkcs11',
        `dynamic_path = ${engineLibrary()}`,
        'MODULE_PATH = /usr/lib/softhsm/libsofthsm2.so',
        'init = 0',
        '',
      ].join('\n'),
    );
    env.OPENSSL_CONF = path.join(card.dir, 'openssl.cnf');
    d = await startWebDaemon(home);
  });
  after(async () => {
    await d?.stop();
    home?.cleanup();
    card.cleanup();
  });

  function curl(args: string[]): { status: number; body: string } {
    const out = execFileSync(
      'curl',
      [
        '-sS',
        '--cacert', path.join(home.home, 'tls', 'web.crt'),
        '--engine', 'pkcs11',
        '--key-type', 'ENG',
        '--key', `pkcs11:token=card;object=alice-key;type=private;pin-value=${pin}`,
        '--cert', certFile,
        '-b', path.join(card.dir, 'jar'),
        '-c', path.join(card.dir, 'jar'),
        '-w', '\n%{http_code}',
        ...args,
      ],
      { env, encoding: 'utf8' },
    );
    const i = out.lastIndexOf('\n');
    return { status: Number(out.slice(i + 1)), body: out.slice(0, i) };
  }

  test('the private key was made on the token and cannot be read from it', () => {
    assert.equal(privateReadable, false);
    assert.deepEqual(readdirSync(card.dir).filter((f) => f.endsWith('.key')), [], 'no key file anywhere');
  });

  test('password then the card: login completes and binds the certificate', async () => {
    const admin = new ApiClient(d);
    await admin.loginAndChange('admin', home.oneTimePassword, strongPassword());
    const created = await admin.call('POST', '/api/v1/users', { username: 'alice', fullName: 'Alice', email: 'alice@example.test', profile: 'auditor' });
    await admin.call('POST', `/api/v1/users/${created.json.user.id}/mfa`, { method: 'certificate' });
    const base = `https://127.0.0.1:${d.httpsPort}`;

    const login = curl(['-H', 'content-type: application/json', '--data', JSON.stringify({ username: 'alice', password: created.json.oneTimePassword }), `${base}/api/v1/auth/login`]);
    assert.equal(login.status, 200, login.body);
    const { csrfToken, mfaRequired } = JSON.parse(login.body);
    assert.equal(mfaRequired, 'certificate');

    const mfa = curl(['-X', 'POST', '-H', `x-csrf-token: ${csrfToken}`, `${base}/api/v1/auth/mfa/certificate`]);
    assert.equal(mfa.status, 200, mfa.body);
    assert.equal(JSON.parse(mfa.body).certificateBound, true);

    const me = curl([`${base}/api/v1/me`]);
    assert.equal(me.status, 200);
    assert.equal(JSON.parse(me.body).mfaRequired, null);
    const bindings = (await admin.call('GET', '/api/v1/certificates?user=alice')).json.certificates;
    assert.equal(bindings.length, 1);
    assert.equal(bindings[0].email, 'alice@example.test');
  });

  test('a wrong card PIN cannot sign: the handshake fails at the client, nothing reaches the server', () => {
    assert.throws(() =>
      execFileSync('curl', ['-sS', '--cacert', path.join(home.home, 'tls', 'web.crt'), '--engine', 'pkcs11', '--key-type', 'ENG', '--key', 'pkcs11:token=card;object=alice-key;type=private;pin-value=000000', '--cert', certFile, `https://127.0.0.1:${d.httpsPort}/healthz`], { env, stdio: 'pipe' }),
    );
  });
});
