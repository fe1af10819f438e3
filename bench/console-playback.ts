// make bench — playback start of a one-hour SSH recording in the console: the real web daemon (a process, real
// HTTPS) serving GET /api/v1/recordings/:id/asciicast of a recording made by the recording writer on a real
// SoftHSM token (an hour of a busy terminal: a screen line a second, keystrokes and their echo, a command every
// 30 s). Timed: the first byte of the export (after the server verified the whole file: the export refuses an
// altered recording before sending anything) and the whole file (asciinema-player starts once it has it all),
// and the first page of the command list beside the player. Baseline in the same run, on the same
// keep-alive connection: GET /healthz. Figures are medians.
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { Appliance } from '../appliance/index.js';
import { loadConfig } from '../appliance/config/index.js';
import { initializedHome, strongPassword } from '../tests/helpers/fixtures.js';
import { ApiClient, startWebDaemon } from '../tests/helpers/web-daemon.js';

const ROUNDS = 15;
const HOUR_S = 3600;
const admin = { username: 'admin', ip: '127.0.0.1' };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** One GET on the keep-alive agent: ms to the first body byte, ms to the end, bytes. */
function get(port: number, ca: Buffer, agent: https.Agent, path: string, cookie: string): Promise<{ firstMs: number; allMs: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let firstMs = -1;
    let bytes = 0;
    https
      .get({ host: '127.0.0.1', port, path, ca, agent, headers: { cookie, accept: '*/*' } }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`${path}: ${res.statusCode}`));
        res.on('data', (c: Buffer) => {
          if (firstMs < 0) firstMs = performance.now() - t0;
          bytes += c.length;
        });
        res.on('end', () => resolve({ firstMs, allMs: performance.now() - t0, bytes }));
      })
      .on('error', reject);
  });
}

const home = await initializedHome();
// The writer stamps events with the service's clock: a clock the bench moves makes an hour in seconds.
let now = Date.now() - HOUR_S * 1000;
const a = await Appliance.open(loadConfig({ WARDEN_HOME: home.home }), { clock: () => now });
let recordingId = '';
let events = 0;
try {
  const ana = await a.users.create(admin, { username: 'ana', fullName: 'Ana', email: 'ana@example.test', profile: 'privileged-access-user' });
  const device = (await a.devices.createDevice(admin, { hostname: 'db01', address: '127.0.0.21', connectivity: 'SSH:22' })).id;
  const credential = (await a.credentials.createCredential(admin, { deviceId: device, username: 'root', secret: 'Target-S3cret-value' })).id;
  await a.accessGroups.saveGroup(admin, { name: 'db', userIds: [ana.user.id], deviceIds: [device], credentialIds: [credential] });
  const admitted = await a.sessions.open({ userId: ana.user.id, deviceId: device, credentialId: credential, protocol: 'ssh', source: '127.0.0.1' });
  if (!admitted.admitted) throw new Error('not admitted');
  const rec = await a.recordings.start(admitted.session, { cols: 120, rows: 40, term: 'xterm-256color' });
  const started = now;
  for (let s = 1; s <= HOUR_S; s++) {
    now += 1000;
    // A status line redrawn every second (as top or a tail would), coloured.
    rec.writer.output(Buffer.from(`\x1b[2K\r\x1b[32m${new Date(now).toISOString()}\x1b[0m load ${(s % 97) / 10} mem ${s % 4096} MiB conns ${s % 311} ${'.'.repeat(s % 60)}\r\n`));
    events++;
    if (s % 5 === 0) {
      for (const ch of 'ls -la\r') {
        now += 40;
        rec.writer.input(Buffer.from(ch));
        rec.writer.output(Buffer.from(ch === '\r' ? '\r\n' : ch));
        events += 2;
      }
    }
    if (s % 30 === 0) await a.sessions.recordActivity(admitted.session.id, { commands: [{ at: now, offsetMs: now - started, command: `systemctl status app-${s}`, action: 'allow', rule: null }], output: [] });
    if (s % 10 === 0) await rec.writer.flush();
  }
  await rec.close();
  await admitted.session.close({ reason: 'client-closed' });
  recordingId = rec.id;
} finally {
  await a.close();
}

const d = await startWebDaemon(home);
try {
  const client = new ApiClient(d);
  await client.loginAndChange('admin', home.oneTimePassword, strongPassword());
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const port = d.httpsPort;
  const cookie = client.cookie;
  const cast = `/api/v1/recordings/${recordingId}/asciicast`;
  // Warm-up: the connection, the daemon's code paths, the file in the page cache.
  await get(port, d.ca, agent, '/healthz', cookie);
  const size = (await get(port, d.ca, agent, cast, cookie)).bytes;
  const health: number[] = [];
  const first: number[] = [];
  const whole: number[] = [];
  const commands: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    health.push((await get(port, d.ca, agent, '/healthz', cookie)).allMs);
    const r = await get(port, d.ca, agent, cast, cookie);
    first.push(r.firstMs);
    whole.push(r.allMs);
    commands.push((await get(port, d.ca, agent, `/api/v1/recordings/${recordingId}/commands?limit=50`, cookie)).allMs);
  }
  agent.destroy();
  const h = median(health);
  const line = (name: string, ms: number) => `  ${name.padEnd(36)} ${ms.toFixed(1).padStart(8)} ms = ${(ms / h).toFixed(0).padStart(5)}x GET /healthz`;
  process.stdout.write(
    [
      `console playback: a one-hour SSH recording (${events} events, asciicast ${(size / 1024 / 1024).toFixed(1)} MiB), median of ${ROUNDS}; baseline GET /healthz ${h.toFixed(2)} ms`,
      line('asciicast: first byte (after verify)', median(first)),
      line('asciicast: whole file (player starts)', median(whole)),
      line('commands beside the player (page 1)', median(commands)),
    ].join('\n') + '\n',
  );
} finally {
  await d.stop();
  home.cleanup();
}
