import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { buildConfig, configPath, loadConfig } from '../../../appliance/config/index.js';
import { WardenError } from '../../../appliance/errors/index.js';
import { tempDir } from '../../helpers/fixtures.js';

describe('configuration', () => {
  test('defaults are the appliance ones, relative paths resolve under home', () => {
    const c = buildConfig({}, '/var/lib/warden');
    assert.equal(c.web.httpsPort, 443);
    assert.equal(c.web.httpPort, 80);
    assert.equal(c.store.sqlitePath, '/var/lib/warden/warden.db');
    assert.equal(c.keys.module, '/usr/lib/softhsm/libsofthsm2.so');
    assert.deepEqual(c.auth.argon2, { memoryKiB: 19456, iterations: 2, parallelism: 1 });
  });

  test('recordings.dir: <home>/recordings by default, relative to home, absolute as given; no unknown keys', () => {
    assert.equal(buildConfig({}, '/var/lib/warden').recordings.dir, '/var/lib/warden/recordings');
    assert.equal(buildConfig({ recordings: { dir: 'rec' } }, '/h').recordings.dir, '/h/rec');
    assert.equal(buildConfig({ recordings: { dir: '/srv/recordings' } }, '/h').recordings.dir, '/srv/recordings');
    assert.throws(() => buildConfig({ recordings: { path: 'x' } }, '/h'), (e) => e instanceof WardenError && e.code === 'CONFIG_INVALID');
  });

  test('the terminal proxy listens on 22 on every address by default, its host key under home', () => {
    assert.deepEqual(buildConfig({}, '/var/lib/warden').terminalProxy, { listen: '0.0.0.0', port: 22, hostKey: '/var/lib/warden/ssh/terminal-proxy_ed25519_key', loginGraceSeconds: 60, maxUnauthenticated: 100 });
    assert.deepEqual(buildConfig({ terminalProxy: { listen: '127.0.0.1', port: 2222, loginGraceSeconds: 5, maxUnauthenticated: 3 } }, '/h').terminalProxy, { listen: '127.0.0.1', port: 2222, hostKey: '/h/ssh/terminal-proxy_ed25519_key', loginGraceSeconds: 5, maxUnauthenticated: 3 });
  });

  test('the RDP proxy address written into .rdp files: the web public host on 3389 by default, or as configured', () => {
    assert.deepEqual(buildConfig({}, '/h').rdpProxy.publicAddress, { host: 'localhost', port: 3389 });
    assert.deepEqual(buildConfig({ web: { publicHost: 'pam.example.test' } }, '/h').rdpProxy.publicAddress, { host: 'pam.example.test', port: 3389 });
    assert.deepEqual(buildConfig({ rdpProxy: { publicAddress: 'rdp.example.test:13389' } }, '/h').rdpProxy.publicAddress, { host: 'rdp.example.test', port: 13389 });
    assert.deepEqual(buildConfig({ rdpProxy: { publicAddress: '127.0.0.1' } }, '/h').rdpProxy.publicAddress, { host: '127.0.0.1', port: 3389 });
    assert.deepEqual(buildConfig({ rdpProxy: { publicAddress: '[::1]:3390' } }, '/h').rdpProxy.publicAddress, { host: '[::1]', port: 3390 });
  });

  test('auth.argon2 sets the cost of new password hashes; fields left out keep the default', () => {
    assert.deepEqual(buildConfig({ auth: { argon2: { memoryKiB: 65536, iterations: 3, parallelism: 2 } } }, '/h').auth.argon2, { memoryKiB: 65536, iterations: 3, parallelism: 2 });
    assert.deepEqual(buildConfig({ auth: { argon2: { iterations: 4 } } }, '/h').auth.argon2, { memoryKiB: 19456, iterations: 4, parallelism: 1 });
  });

  test('a config written before Argon2id (auth.scrypt) still loads, with the Argon2id default for new hashes', () => {
    const c = buildConfig({ auth: { scrypt: { cost: 1024, blockSize: 8, parallelization: 1 } } }, '/h');
    assert.equal(c.auth.scrypt.cost, 1024);
    assert.deepEqual(c.auth.argon2, { memoryKiB: 19456, iterations: 2, parallelism: 1 });
  });

  test('the config file is found by WARDEN_CONFIG, then WARDEN_HOME, then /etc', () => {
    assert.equal(configPath({ WARDEN_CONFIG: '/x/y.json', WARDEN_HOME: '/h' }), '/x/y.json');
    assert.equal(configPath({ WARDEN_HOME: '/h' }), '/h/warden.json');
    assert.equal(configPath({}), '/etc/warden/warden.json');
  });

  const invalid: [string, unknown][] = [
    ['an unknown section', { webb: {} }],
    ['an unknown key', { web: { port: 1 } }],
    ['a port out of range', { web: { httpsPort: 70000 } }],
    ['a port that is a string', { web: { httpsPort: '443' } }],
    ['a scrypt cost that is not a power of two', { auth: { scrypt: { cost: 3000 } } }],
    ['an Argon2id memory below 64 KiB', { auth: { argon2: { memoryKiB: 32 } } }],
    ['an Argon2id memory below 8 KiB per lane', { auth: { argon2: { memoryKiB: 64, parallelism: 16 } } }],
    ['zero Argon2id iterations', { auth: { argon2: { iterations: 0 } } }],
    ['an Argon2id cost that is a string', { auth: { argon2: { memoryKiB: '19456' } } }],
    ['an unknown Argon2id field', { auth: { argon2: { memory: 19456 } } }],
    ['an Argon2id cost that is not an object', { auth: { argon2: 19456 } }],
    ['an unsupported engine', { store: { engine: 'oracle' } }],
    ['a terminal proxy port out of range', { terminalProxy: { port: 65536 } }],
    ['an unknown terminal proxy key', { terminalProxy: { sshPort: 22 } }],
    ['no time at all to log in through the proxy', { terminalProxy: { loginGraceSeconds: 0 } }],
    ['an RDP public address with a line break (it is written into .rdp files)', { rdpProxy: { publicAddress: 'a.test\r\nalternate shell:s:cmd' } }],
    ['an RDP public address with a port out of range', { rdpProxy: { publicAddress: 'a.test:65536' } }],
    ['an RDP public address with port 0', { rdpProxy: { publicAddress: 'a.test:0' } }],
    ['an RDP public address that is not a string', { rdpProxy: { publicAddress: 3389 } }],
    ['an unknown RDP proxy key', { rdpProxy: { address: 'a.test' } }],
    ['an array', []],
    ['Duo test hosts without a test CA', { auth: { duoTestHosts: ['localhost:8443'] } }],
    ['a Duo test host that is not loopback', { auth: { duoCaFile: 'ca.pem', duoTestHosts: ['intranet.example.test:8443'] } }],
    ['a Duo test host without a port', { auth: { duoCaFile: 'ca.pem', duoTestHosts: ['localhost'] } }],
    ['a Duo test host with a path', { auth: { duoCaFile: 'ca.pem', duoTestHosts: ['localhost:8443/x'] } }],
    ['a Duo test host with a port out of range', { auth: { duoCaFile: 'ca.pem', duoTestHosts: ['127.0.0.1:99999'] } }],
  ];

  test('Duo test hosts: exact loopback host:port entries, only beside a test CA', () => {
    const c = buildConfig({ auth: { duoCaFile: 'ca.pem', duoTestHosts: ['LOCALHOST:8443', '127.0.0.1:9443', '[::1]:7443'] } }, '/h');
    assert.deepEqual(c.auth.duoTestHosts, ['localhost:8443', '127.0.0.1:9443', '[::1]:7443']);
    assert.equal(c.auth.duoCaFile, '/h/ca.pem');
    assert.deepEqual(buildConfig({}, '/h').auth.duoTestHosts, []);
  });
  for (const [what, raw] of invalid) {
    test(`${what} is refused with CONFIG_INVALID`, () => {
      assert.throws(() => buildConfig(raw, '/h'), (e) => e instanceof WardenError && e.code === 'CONFIG_INVALID');
    });
  }

  test('a missing or broken file says what to do', () => {
    const tmp = tempDir();
    assert.throws(() => loadConfig({ WARDEN_HOME: tmp.dir }), /run "orbit init"/);
    writeFileSync(path.join(tmp.dir, 'warden.json'), '{ not json');
    assert.throws(() => loadConfig({ WARDEN_HOME: tmp.dir }), /not valid JSON/);
    tmp.cleanup();
  });
});
