// The page shell names the console bundle from the manifest the build wrote: a build without the console, or a
// manifest naming anything but console-<hash>.js/.css, stops the web daemon at start instead of serving a
// page whose script is missing (or a file name taken from outside the build).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { readConsoleManifest, renderShell } from '../../../daemons/web/routes/pages.js';
import { tempDir } from '../../helpers/fixtures.js';

describe('console manifest', () => {
  test('the build wrote one, naming hashed files, and the shell loads them after app.js', () => {
    const m = readConsoleManifest();
    assert.match(m.js, /^console-[A-Za-z0-9]+\.js$/);
    assert.match(m.css, /^console-[A-Za-z0-9]+\.css$/);
    const html = renderShell('en-US', m, 'bm9uY2Utb2YtdGhpcy1wYWdl');
    assert.ok(html.indexOf('/assets/app.js') < html.indexOf(`/assets/${m.js}`), 'app.js first: it hands the session over');
    assert.ok(html.includes(`<link rel="stylesheet" href="/assets/${m.css}">`));
    // An ES module: it imports its chunks (the session player) itself, and only when a page needs them.
    assert.ok(html.includes(`<script type="module" src="/assets/${m.js}"></script>`));
    assert.ok(m.chunks.length >= 1, 'the player is a chunk of its own');
    assert.ok(!m.chunks.includes(m.js));
    for (const tag of html.match(/<script[^>]*>/g) ?? []) assert.match(tag, / src="\/assets\/| type="application\/json"/, `no inline script: ${tag}`);
    // The page's style nonce, for the terminal's own <style> elements (pages/terminal.tsx), and no inline style of its own.
    assert.ok(html.includes('<meta name="warden-style-nonce" content="bm9uY2Utb2YtdGhpcy1wYWdl">'));
    assert.ok(!/<style|style="/.test(html), 'the shell itself has no inline style');
  });

  test('missing or naming other files: refused with the reason', () => {
    const dir = tempDir();
    try {
      assert.throws(() => readConsoleManifest(dir.dir), /the web console is not built/);
      for (const bad of [{ js: '../../etc/passwd', css: 'console-A.css' }, { js: 'console-A.js' }, { js: 'app.js', css: 'app.css' }]) {
        writeFileSync(`${dir.dir}/console-manifest.json`, JSON.stringify(bad));
        assert.throws(() => readConsoleManifest(dir.dir), /does not name a console script and stylesheet/, JSON.stringify(bad));
      }
      writeFileSync(`${dir.dir}/console-manifest.json`, JSON.stringify({ js: 'console-AB12.js', css: 'console-CD34.css', chunks: ['../secret.js'] }));
      assert.throws(() => readConsoleManifest(dir.dir), /names a console chunk that is not one/);
      writeFileSync(`${dir.dir}/console-manifest.json`, JSON.stringify({ js: 'console-AB12.js', css: 'console-CD34.css' }));
      assert.deepEqual(readConsoleManifest(dir.dir), { js: 'console-AB12.js', css: 'console-CD34.css', chunks: [] });
      writeFileSync(`${dir.dir}/console-manifest.json`, JSON.stringify({ js: 'console-AB12.js', css: 'console-CD34.css', chunks: ['console-chunk-EF56.js'] }));
      assert.deepEqual(readConsoleManifest(dir.dir).chunks, ['console-chunk-EF56.js']);
    } finally {
      dir.cleanup();
    }
  });
});
