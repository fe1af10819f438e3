// An RDP recording made by the real RecordingWriter (through the RecordingService, as the proxy will) holding
// what a target sends after the ClientInfo — licensing, a Demand Active, slow-path and fast-path bitmap
// updates (uncompressed, interleaved RLE, planar in fragments), a cached bitmap drawn by a MemBlt order — rendered by `orbit recording render` into
// PNGs whose pixels are checked, and exported by `orbit recording export --format mp4` into a file ffprobe
// reads with the right size and frame count. Terminal recordings are refused; so are non-auditors; the
// reading is audited.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import { decodePng } from '../../appliance/recording/index.js';
import { initializedHome, type InitializedHome } from '../helpers/fixtures.js';
import { runOrbit } from '../helpers/orbit.js';
import { RGB565, bitmapUpdateData, cacheBitmapRev2, demandActive, fastPathFragments, fastPathFrame, i16, licenseValidClient, ordersFastPath, primaryOrder, slowPathUpdate, solid, u16, uncompressedRows, rgb565 } from '../helpers/rdp-frames.js';
import { RAW_16BPP_32X32, RLE_16BPP_32X32 } from '../appliance/recording/rdp-vectors.js';

const admin = { username: 'admin', ip: '127.0.0.1' };
const W = 64;
const H = 48;
/** The MS-RDPEGDI 6×3 RLE plane and its values, scanlines in wire order (the first is the bottom one). */
const SPEC_PLANE = Buffer.from([0x13, 0xff, 0x20, 0xfe, 0xfd, 0x60, 0x01, 0x7d, 0xf5, 0xc2, 0x9a, 0x38, 0x60, 0x01, 0x67, 0x8b, 0xa3, 0x78, 0xaf]);
const SPEC_PLANE_VALUES = [255, 255, 255, 255, 254, 253, 254, 192, 132, 96, 75, 25, 253, 140, 62, 14, 135, 193];
/** How long after its first frames the recording's last update comes. */
const PAUSE_MS = 600;

function pixel(png: Buffer, x: number, y: number): number[] {
  const { width, rgba } = decodePng(png);
  const o = (y * width + x) * 4;
  return [rgba[o]!, rgba[o + 1]!, rgba[o + 2]!];
}


describe('orbit recording render and export --format mp4 (RDP)', { timeout: 180_000 }, () => {
  let home: InitializedHome;
  let a: Appliance;
  let rdpId = '';
  let sshId = '';
  let anaId = 0;

  before(async () => {
    home = await initializedHome();
    a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }));
    const ana = await a.users.create(admin, { username: 'ana', fullName: 'Ana', email: 'ana@example.test', profile: 'privileged-access-user' });
    anaId = ana.user.id;
    const win = (await a.devices.createDevice(admin, { hostname: 'win01', address: '127.0.0.31', connectivity: 'RDP:3389' })).id;
    const db = (await a.devices.createDevice(admin, { hostname: 'db01', address: '127.0.0.32', connectivity: 'SSH:22' })).id;
    const winCred = (await a.credentials.createCredential(admin, { deviceId: win, username: 'Administrator', secret: 'Target-S3cret-value' })).id;
    const dbCred = (await a.credentials.createCredential(admin, { deviceId: db, username: 'root', secret: 'Target-S3cret-value' })).id;
    await a.accessGroups.saveGroup(admin, { name: 'ops', userIds: [anaId], deviceIds: [win, db], credentialIds: [winCred, dbCred] });

    const rdp = await a.sessions.open({ userId: anaId, deviceId: win, credentialId: winCred, protocol: 'rdp', source: '127.0.0.1' });
    assert.ok(rdp.admitted);
    const rec = await a.recordings.start(rdp.session, { cols: W, rows: H, term: 'rdp' });
    const w = rec.writer;
    w.output(licenseValidClient());
    w.output(demandActive(W, H));
    // Slow path, uncompressed 16 bpp, 32×24 at (0, 0): the top half red, the bottom half blue.
    w.output(slowPathUpdate(bitmapUpdateData([{ left: 0, top: 0, width: 32, height: 24, bpp: 16, data: uncompressedRows([...solid(32, 12, RGB565.red), ...solid(32, 12, RGB565.blue)], 16) }])));
    w.input(Buffer.from([0x00, 0x04, 0x01, 0x1e])); // a client key press: not drawn
    // Fast path, interleaved RLE: MS-RDPEGDI's 32×32 test bitmap at (32, 0).
    w.output(fastPathFrame([{ code: 1, data: bitmapUpdateData([{ left: 32, top: 0, width: 32, height: 32, bpp: 16, compressed: true, data: RLE_16BPP_32X32 }]) }]));
    // Fast path in fragments, planar with RLE planes: the specification's 6×3 plane at (0, 40), grey.
    const planar = Buffer.concat([Buffer.from([0x30]), SPEC_PLANE, SPEC_PLANE, SPEC_PLANE]);
    for (const f of fastPathFragments(1, bitmapUpdateData([{ left: 0, top: 40, width: 6, height: 3, bpp: 32, compressed: true, data: planar }]), 25)) w.output(f);
    // Orders, the way xrdp paints: the test bitmap into the bitmap cache (revision 2), then a MemBlt of its
    // top-left 32×16 to (32, 32).
    w.output(ordersFastPath([
      cacheBitmapRev2({ cacheId: 0, cacheIndex: 7, bpp: 16, width: 32, height: 32, data: RLE_16BPP_32X32 }),
      primaryOrder({ type: 0x0d, fieldBytes: 2, present: 0x1ff, fields: Buffer.concat([u16(0), i16(32), i16(32), i16(32), i16(16), Buffer.from([0xcc]), i16(0), i16(0), u16(7)]) }),
    ]));
    await w.flush();
    await sleep(PAUSE_MS);
    // Slow path, 24 bpp: an 8×8 green square over the red at (0, 0).
    w.output(slowPathUpdate(bitmapUpdateData([{ left: 0, top: 0, width: 8, height: 8, bpp: 24, data: uncompressedRows(solid(8, 8, 0x00ff00), 24) }])));
    await rec.close();
    await rdp.session.close({ reason: 'client-closed' });
    rdpId = rec.id;

    const ssh = await a.sessions.open({ userId: anaId, deviceId: db, credentialId: dbCred, protocol: 'ssh', source: '127.0.0.1' });
    assert.ok(ssh.admitted);
    const srec = await a.recordings.start(ssh.session, { cols: 80, rows: 24, term: 'xterm' });
    srec.writer.output(Buffer.from('$ '));
    await srec.close();
    await ssh.session.close({ reason: 'client-closed' });
    sshId = srec.id;
  });

  after(async () => {
    await a?.close();
    home?.cleanup();
  });

  test('render --every 100: PNG frames in order, the desktop as drawn; the last shows every update', async () => {
    const dir = path.join(home.home, 'frames');
    const r = await runOrbit(home.home, ['recording', 'render', rdpId, '--out', dir, '--every', '100']);
    assert.equal(r.code, 0, r.stderr);
    const files = readdirSync(dir).sort();
    assert.ok(files.length >= 7 && files.length <= 12, `${files.length} frames for ${PAUSE_MS} ms at one per 100 ms, and the last`);
    assert.deepEqual(files, files.map((_, i) => `frame-${String(i + 1).padStart(6, '0')}.png`));
    assert.match(r.stdout, new RegExp(`wrote ${files.length} frames to .*frames \\(last: ${files.at(-1)}`));
    assert.equal(statSync(path.join(dir, files[0]!)).mode & 0o077, 0, 'frames are owner-only, like the recording');

    const last = readFileSync(path.join(dir, files.at(-1)!));
    assert.deepEqual([decodePng(last).width, decodePng(last).height], [W, H]);
    assert.deepEqual(pixel(last, 1, 1), [0, 255, 0], 'the green square of the last update (24 bpp)');
    assert.deepEqual(pixel(last, 10, 2), [255, 0, 0], 'red: the top half of the slow-path bitmap');
    assert.deepEqual(pixel(last, 10, 20), [0, 0, 255], 'blue: its bottom half (the wire sends it first)');
    assert.deepEqual(pixel(last, 20, 30), [0, 0, 0], 'nothing drawn there');
    for (const [x, y] of [[0, 0], [8, 8], [31, 15]] as const) {
      assert.deepEqual(pixel(last, 32 + x, 32 + y), rgb565(RAW_16BPP_32X32.readUInt16LE(((31 - y) * 32 + x) * 2)), `MemBlt from the bitmap cache (${x}, ${y})`);
    }
    for (const [x, y] of [[0, 0], [31, 31], [7, 12], [20, 3]] as const) {
      assert.deepEqual(pixel(last, 32 + x, y), rgb565(RAW_16BPP_32X32.readUInt16LE(((31 - y) * 32 + x) * 2)), `RLE bitmap (${x}, ${y})`);
    }
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 6; x++) {
        const v = SPEC_PLANE_VALUES[(2 - y) * 6 + x]!;
        assert.deepEqual(pixel(last, x, 40 + y), [v, v, v], `planar (${x}, ${y})`);
      }
    }
    // A frame from before the pause: the first updates drawn, the green square not yet.
    const early = readFileSync(path.join(dir, files[2]!));
    assert.deepEqual(pixel(early, 1, 1), [255, 0, 0]);
    assert.deepEqual(pixel(early, 2, 41), [255, 255, 255].map(() => SPEC_PLANE_VALUES[6 + 2]!));

    // --last: the one final frame, the same picture.
    const lastDir = path.join(home.home, 'last');
    const l = await runOrbit(home.home, ['recording', 'render', rdpId, '--out', lastDir, '--last']);
    assert.equal(l.code, 0, l.stderr);
    assert.deepEqual(readdirSync(lastDir), ['frame-000001.png']);
    assert.deepEqual(decodePng(readFileSync(path.join(lastDir, 'frame-000001.png'))).rgba, decodePng(last).rgba);

    // --json: a summary with the renderer's statistics (what was drawn, skipped, passed over).
    const jsonDir = path.join(home.home, 'json');
    const j = await runOrbit(home.home, ['recording', 'render', rdpId, '--out', jsonDir, '--last', '--json']);
    assert.equal(j.code, 0, j.stderr);
    const summary = JSON.parse(j.stdout) as { frames: number; width: number; height: number; stats: { rects: number; orders: number; skipped: number; ignored: Record<string, number> } };
    assert.deepEqual([summary.frames, summary.width, summary.height, summary.stats.skipped, summary.stats.orders], [1, W, H, 0, 2]);
    assert.equal(summary.stats.rects, 4);
    assert.deepEqual(summary.stats.ignored, { licensing: 1 });

    // Frames already there are never overwritten.
    const again = await runOrbit(home.home, ['recording', 'render', rdpId, '--out', lastDir, '--last']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /EEXIST/);
  });

  test('export --format mp4: a file ffprobe reads, the desktop size, one frame per 1/fps s and the last', async () => {
    const file = path.join(home.home, 'session.mp4');
    const r = await runOrbit(home.home, ['recording', 'export', rdpId, '--format', 'mp4', '--out', file, '--fps', '10']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /wrote .*session\.mp4 \(64x48, \d+ frames at 10 fps\)/);
    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=width,height,codec_name,nb_read_frames', '-of', 'json', file], { encoding: 'utf8' })) as {
      streams: { width: number; height: number; codec_name: string; nb_read_frames: string }[];
    };
    const s = probe.streams[0]!;
    assert.deepEqual([s.width, s.height, s.codec_name], [W, H, 'h264']);
    const n = Number(s.nb_read_frames);
    assert.ok(n >= 7 && n <= 12, `${n} frames for ${PAUSE_MS} ms at 10 fps, and the last`);
    assert.equal(statSync(file).mode & 0o077, 0, 'owner-only');
    const again = await runOrbit(home.home, ['recording', 'export', rdpId, '--format', 'mp4', '--out', file]);
    assert.equal(again.code, 1, 'an existing file is not overwritten');
    assert.match(again.stderr, /exists/);
  });

  test('a terminal recording is refused with a clear error; so is a user who may not read recordings; reading is audited', async () => {
    const render = await runOrbit(home.home, ['recording', 'render', sshId, '--out', path.join(home.home, 'nope')]);
    assert.equal(render.code, 1);
    assert.match(render.stderr, /a ssh recording has no desktop to render \(export it as asciicast\)/);
    const mp4 = await runOrbit(home.home, ['recording', 'export', sshId, '--format', 'mp4', '--out', path.join(home.home, 'nope.mp4')]);
    assert.equal(mp4.code, 1);
    assert.match(mp4.stderr, /no desktop to render/);
    const cast = await runOrbit(home.home, ['recording', 'export', rdpId]);
    assert.equal(cast.code, 1, 'and an RDP recording has no asciicast');
    assert.match(cast.stderr, /a rdp recording has no terminal export/);
    await assert.rejects(a.recordings.rdpFrames({ username: 'ana', ip: null, profile: 'privileged-access-user' }, rdpId, { format: 'png' }), /the recordings.view permission is required/);
    const views = await a.store.repos.auditEvents.query({ type: 'recording.view', subject: `recording:${rdpId}`, limit: 10 });
    assert.deepEqual(views.map((e) => (JSON.parse(e.detail) as { format: string }).format).sort(), ['mp4', 'png', 'png', 'png', 'png'], 'render, render --last, render --json, the refused overwrite (read, then not written), mp4');
  });

  test('usage: --help on render and export; bad flags exit 2', async () => {
    for (const sub of ['render', 'export']) {
      const h = await runOrbit(home.home, ['recording', sub, '--help']);
      assert.equal(h.code, 0);
      assert.match(h.stdout, new RegExp(`^Usage: orbit recording ${sub}`, 'm'));
    }
    assert.equal((await runOrbit(home.home, ['recording', 'render', rdpId])).code, 2, '--out is required');
    assert.equal((await runOrbit(home.home, ['recording', 'render', rdpId, '--out', home.home, '--every', '0'])).code, 2);
    assert.equal((await runOrbit(home.home, ['recording', 'export', rdpId, '--format', 'mp4'])).code, 2, 'mp4 needs --out');
    assert.equal((await runOrbit(home.home, ['recording', 'export', rdpId, '--format', 'mp4', '--out', 'x.mp4', '--fps', '0'])).code, 2);
    assert.equal((await runOrbit(home.home, ['recording', 'export', rdpId, '--format', 'gif', '--out', 'x.gif'])).code, 2);
  });
});
