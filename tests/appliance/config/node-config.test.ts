// node: { id, name } in warden.json — this node's identity in a cluster; absent in configs from before
// clustering, where it is 'local' and the host name.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { buildConfig, LOCAL_NODE_ID } from '../../../appliance/config/index.js';
import { WardenError } from '../../../appliance/errors/index.js';

const invalid = (e: unknown) => e instanceof WardenError && e.code === 'CONFIG_INVALID';

describe('node identity in the config', () => {
  test("absent: id 'local' and the host name", () => {
    assert.equal(LOCAL_NODE_ID, 'local');
    assert.deepEqual(buildConfig({}, '/h').node, { id: 'local', name: hostname() });
  });

  test('given: id and name as written; the name defaults to the host name', () => {
    assert.deepEqual(buildConfig({ node: { id: '3f2c7a1e-9b1d-4c2e-8f00-1234567890ab', name: 'warden-a' } }, '/h').node, { id: '3f2c7a1e-9b1d-4c2e-8f00-1234567890ab', name: 'warden-a' });
    assert.deepEqual(buildConfig({ node: { id: 'node-b' } }, '/h').node, { id: 'node-b', name: hostname() });
  });

  test('refused: an id with other characters, too long, empty; a name too long; an unknown key', () => {
    for (const id of ['', 'a b', '../x', '-lead', 'x'.repeat(65), 7]) assert.throws(() => buildConfig({ node: { id } }, '/h'), invalid, String(id));
    assert.throws(() => buildConfig({ node: { id: 'a', name: 'n'.repeat(256) } }, '/h'), invalid);
    assert.throws(() => buildConfig({ node: { id: 'a', url: 'https://127.0.0.1' } }, '/h'), invalid);
    assert.throws(() => buildConfig({ node: 'a' }, '/h'), invalid);
  });
});
