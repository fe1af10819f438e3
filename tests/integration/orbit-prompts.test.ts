// orbit on a terminal: with arguments missing it asks (inquirer prompts on a real pseudo-terminal made by
// util-linux `script`), and the answers land exactly as flags would have.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { TEST_ARGON2_FLAGS, tempDir } from '../helpers/fixtures.js';
import { ORBIT_MAIN } from '../helpers/web-daemon.js';

/** Run orbit under a pseudo-terminal; each step waits for `prompt` in the output, then types `keys`. */
async function onTerminal(args: string[], steps: { prompt: RegExp; keys: string }[]): Promise<{ code: number | null; out: string }> {
  const env = { ...process.env };
  delete env.CI;
  const command = [process.execPath, ORBIT_MAIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const p = spawn('script', ['-qec', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => p.on('exit', (code) => resolve(code)));
  let seen = 0;
  for (const step of steps) {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const rest = out.slice(seen);
      const m = step.prompt.exec(rest);
      if (m) {
        seen += m.index + m[0].length;
        break;
      }
      if (Date.now() > deadline) {
        p.kill();
        throw new Error(`no prompt ${step.prompt}; output:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    p.stdin.write(step.keys);
  }
  const timer = setTimeout(() => p.kill(), 15_000);
  const code = await exited;
  clearTimeout(timer);
  return { code, out };
}

describe('orbit prompts on a terminal', () => {
  const tmp = tempDir('warden-pty-');
  const home = path.join(tmp.dir, 'state');
  before(() => {
    execFileSync(process.execPath, [ORBIT_MAIN, '--home', home, 'init', '--admin-user', 'chief', '--https-port', '0', '--http-port', '0', ...TEST_ARGON2_FLAGS, '--shares-dir', path.join(tmp.dir, 'shares-1'), '--json'], { env: { ...process.env, CI: 'true' } });
  });
  after(() => tmp.cleanup());

  test('user add asks for the name, full name and profile', async () => {
    const r = await onTerminal(['--home', home, 'user', 'add'], [
      { prompt: /User name/, keys: 'dmitri\r' },
      { prompt: /Full name/, keys: 'Дмитрий Менделеев\r' },
      // The profile list starts at administrator: two down is auditor.
      { prompt: /Profile/, keys: '\x1b[B\x1b[B\r' },
    ]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /created dmitri \(auditor\)/);
    const list = JSON.parse(execFileSync(process.execPath, [ORBIT_MAIN, '--home', home, 'user', 'list', '--json'], { encoding: 'utf8' }));
    const u = list.users.find((x: { username: string }) => x.username === 'dmitri');
    assert.equal(u.fullName, 'Дмитрий Менделеев');
    assert.equal(u.profile, 'auditor');
  });

  test('init on a terminal asks for the administrator name', async () => {
    const fresh = path.join(tmp.dir, 'fresh');
    const r = await onTerminal(['--home', fresh, 'init', '--https-port', '0', '--http-port', '0', ...TEST_ARGON2_FLAGS, '--shares-dir', path.join(tmp.dir, 'shares-2')], [
      { prompt: /First administrator user name/, keys: 'overseer\r' },
    ]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /user:\s+overseer/);
    assert.match(r.out, /password:\s+\S{20}/);
  });
});
