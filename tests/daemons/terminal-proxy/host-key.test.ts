// The proxy's host key file: made once, whole or not at all, and a damaged one is a clear error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import { loadOrCreateHostKey, newHostKeyPair } from '../../../daemons/terminal-proxy/host-key.js';
import { publishPrivateFile } from '../../../appliance/config/index.js';
import { WardenError } from '../../../appliance/errors/index.js';
import { tempDir } from '../../helpers/fixtures.js';

const HOST_KEY_MODULE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../daemons/terminal-proxy/host-key.js');

test('the first start makes an Ed25519 key (0600), later starts read the same one', () => {
  const tmp = tempDir();
  try {
    const file = path.join(tmp.dir, 'ssh', 'key');
    const first = loadOrCreateHostKey(file);
    assert.equal(first.created, true);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const parsed = ssh2.utils.parseKey(first.key);
    assert.ok(!(parsed instanceof Error) && parsed.type === 'ssh-ed25519');
    const again = loadOrCreateHostKey(file);
    assert.equal(again.created, false);
    assert.deepEqual(again.key, first.key);
  } finally {
    tmp.cleanup();
  }
});

test('an empty or damaged key file (a crash of an older version mid-write) is a clear error naming the file, not a parser trace', () => {
  const tmp = tempDir();
  try {
    const file = path.join(tmp.dir, 'key');
    for (const content of ['', '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n']) {
      writeFileSync(file, content);
      assert.throws(
        () => loadOrCreateHostKey(file),
        (e: unknown) => e instanceof WardenError && e.code === 'CONFIG_INVALID' && e.message.includes(file) && e.message.includes('move it away'),
      );
      assert.equal(readFileSync(file, 'utf8'), content, 'the damaged file is left for the administrator');
    }
  } finally {
    tmp.cleanup();
  }
});

test('every key made is one ssh2 can read back (its generator drops a leading zero byte of one key in 256)', () => {
  // 3,000 keys: with ssh2's generator alone, the chance that none is unreadable is (255/256)^3000 < 0.00001.
  for (let i = 0; i < 3000; i++) {
    const pair = newHostKeyPair();
    const priv = ssh2.utils.parseKey(pair.private);
    const pub = ssh2.utils.parseKey(pair.public);
    assert.ok(!(priv instanceof Error) && priv.type === 'ssh-ed25519', `private key ${i} reads back`);
    assert.ok(!(pub instanceof Error) && pub.getPublicSSH().length === 51, `public key ${i} has its whole 32 bytes`);
  }
});

test('publishPrivateFile never replaces an existing file and leaves no temporary file behind', () => {
  const tmp = tempDir();
  try {
    const file = path.join(tmp.dir, 'secret');
    assert.equal(publishPrivateFile(file, 'first'), true);
    assert.equal(publishPrivateFile(file, 'second'), false);
    assert.equal(readFileSync(file, 'utf8'), 'first');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(tmp.dir), ['secret']);
  } finally {
    tmp.cleanup();
  }
});

test('proxies starting at the same moment all end up with one whole key', async () => {
  const tmp = tempDir();
  try {
    const file = path.join(tmp.dir, 'ssh', 'terminal-proxy_ed25519_key');
    // Separate processes, released together: each either makes the key or reads the one another made.
    const go = Date.now() + 2000;
    const script = `import { loadOrCreateHostKey, newHostKeyPair } from ${JSON.stringify(HOST_KEY_MODULE)};
      while (Date.now() < ${go});
      const r = loadOrCreateHostKey(${JSON.stringify(file)});
      process.stdout.write(JSON.stringify({ created: r.created, key: r.key.toString('base64') }));`;
    const runs = await Promise.all(
      Array.from({ length: 6 }, () =>
        new Promise<{ created: boolean; key: string }>((resolve, reject) => {
          const p = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          let err = '';
          p.stdout.on('data', (d) => (out += d));
          p.stderr.on('data', (d) => (err += d));
          p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}: ${err}`))));
        }),
      ),
    );
    assert.equal(runs.filter((r) => r.created).length, 1, 'exactly one process made the key');
    const onDisk = readFileSync(file).toString('base64');
    for (const r of runs) assert.equal(r.key, onDisk, 'every process serves the key on disk');
    assert.deepEqual(readdirSync(path.dirname(file)), [path.basename(file)], 'no temporary file left');
  } finally {
    tmp.cleanup();
  }
});
