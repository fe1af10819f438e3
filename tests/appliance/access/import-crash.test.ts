// A CSV import killed part-way (kill -9, a real process on a real SQLite file) leaves no device without its
// audit record, and an intact audit chain (security review, issue 7, finding 4).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import { loadConfig } from '../../../appliance/config/index.js';
import { IMPORT_BATCH } from '../../../appliance/access/index.js';
import { initializedHome, type InitializedHome } from '../../helpers/fixtures.js';
import { runOrbit } from '../../helpers/orbit.js';

const CHILD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'helpers', 'import-child.js');
const ROWS = 20_000;

describe('device import killed part-way', () => {
  let home: InitializedHome;
  before(async () => {
    home = await initializedHome();
  });
  after(() => home?.cleanup());

  test('kill -9 mid-import: every device in the database has its device.create audit row, and the chain verifies', async () => {
    const sqlitePath = loadConfig({ WARDEN_HOME: home.home }).store.sqlitePath;
    const child = spawn(process.execPath, [CHILD, String(ROWS)], { env: { ...process.env, WARDEN_HOME: home.home, WARDEN_CONFIG: home.configFile }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = once(child, 'exit');
    while (!stdout.includes('importing')) {
      assert.equal(child.exitCode, null, `the import process ended early: ${stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const reader = new SQLite(sqlitePath, { readonly: true, fileMustExist: true });
    reader.pragma('busy_timeout = 5000');
    const count = () => (reader.prepare('SELECT count(*) AS n FROM devices').get() as { n: number }).n;
    try {
      // Kill it once a few batches have landed, well before the end.
      while (count() < 3 * IMPORT_BATCH) {
        assert.equal(child.exitCode, null, `the import process ended early: ${stderr}`);
        await new Promise((r) => setTimeout(r, 2));
      }
      child.kill('SIGKILL');
      const [code, signal] = await exited;
      assert.equal(signal, 'SIGKILL', `exit ${code}: ${stderr}`);
    } finally {
      reader.close();
    }
    assert.equal(stdout.includes('done'), false, 'killed before the import finished');

    const db = new SQLite(sqlitePath);
    try {
      const devices = (db.prepare('SELECT count(*) AS n FROM devices').get() as { n: number }).n;
      const unaudited = db
        .prepare("SELECT d.hostname FROM devices d WHERE NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.type = 'device.create' AND e.subject = d.hostname)")
        .all() as { hostname: string }[];
      assert.deepEqual(unaudited.slice(0, 5), [], `${unaudited.length} devices without an audit record`);
      assert.ok(devices >= 3 * IMPORT_BATCH && devices < ROWS, `${devices} devices`);
      assert.equal(devices % IMPORT_BATCH, 0, 'whole batches only');
    } finally {
      db.close();
    }
    const verify = await runOrbit(home.home, ['audit', 'verify', '--json']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.equal(JSON.parse(verify.stdout.trim()).ok, true);
  });
});
