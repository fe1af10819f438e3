// The files laid into the image: every systemd unit parses cleanly (systemd-analyze prints a warning, not
// an error code, for an unknown key or value — so the test reads what it prints).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const unitsDir = path.join(root, 'os-overlay', 'etc', 'systemd', 'system');

describe('os-overlay systemd units', () => {
  const units = readdirSync(unitsDir).filter((f) => f.endsWith('.service'));

  test('there is a unit for the web daemon', () => assert.ok(units.includes('warden-web.service')));

  for (const unit of units) {
    test(`${unit} passes systemd-analyze verify without a warning`, () => {
      const file = path.join(unitsDir, unit);
      // stdout and stderr together; its exit code is 0 even for unknown keys, hence reading the text.
      const all = execFileSync('sh', ['-c', 'systemd-analyze verify "$1" 2>&1 || true', 'sh', file], { encoding: 'utf8' });
      const mine = all.split('\n').filter((l) => l.includes(unit));
      assert.deepEqual(mine, [], mine.join('\n'));
    });

    test(`${unit} is Type=notify, drains on SIGTERM and allows @pkey for Node 20`, () => {
      const text = readFileSync(path.join(unitsDir, unit), 'utf8');
      assert.match(text, /^Type=notify$/m);
      assert.match(text, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
      assert.match(text, /^SystemCallFilter=@system-service @pkey$/m);
    });
  }
});
