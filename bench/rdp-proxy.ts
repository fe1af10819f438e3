// make bench — the RDP proxy against a real xfreerdp → xrdp connection to the same target, measured in the same
// run (the RDP lab of tests/helpers/rdp-lab.ts: xrdp 0.9 + Xvnc with one xterm as the desktop, xfreerdp under
// Xvfb; the proxy daemon as a process, with the production Argon2id cost for its logins):
//  1. time to desktop: from spawning xfreerdp to the first frame of its screen that shows the lab's desktop,
//     direct and through the proxy, in paired rounds (the order alternating so the load of a shared machine
//     weighs on both), medians; goal ≤ 1.1× direct. Each connection gets its own session (sesman policy 'UBC':
//     a re-attach to a running one would be faster and measure something else); they are ended between rounds;
//  2. busy (numbers scrolling in the xterm as fast as it draws them), one session direct and one proxied, each
//     through a counting TCP relay: bytes on the client's wire, the proxy's CPU per MiB beside what the xrdp
//     side (its connection process and Xvnc) and the client spent on the same traffic; idle (proxied);
//  3. recording bytes per minute, idle and busy: the recordings directory's growth over a window shorter than a
//     minute (20 s; 8 s quick), scaled to a minute;
//  4. sessions held at once through one proxy (50; fewer if the machine runs short of memory — it says so):
//     the proxy's memory (RSS and PSS) and CPU per session next to the target's and the client's, whether all
//     stayed connected (and still show the desktop) after 30 s, and the proxy's CPU while holding them.
// The held clients are lighter (640×480 screens); every other connection is 1024×768. The held sessions run on a
// fresh proxy (warmed by one session), so its growth is theirs; under GC that growth is a slope over every connect.
// FreeRDP 2's client drives its connection sequence by polling every 100 ms (rdp_client_connect: check, then
// Sleep(100)), so each round trip of it costs up to 100 ms direct or proxied: a proxy step that delays an
// answer past a poll costs the whole 100 ms, one that stays inside it costs nothing.
// WARDEN_BENCH_QUICK=1: fewer rounds, 8 sessions held, short windows. WARDEN_BENCH_RDP_SESSIONS=N: hold N.
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { strongPassword, tempDir, type InitializedHome } from '../tests/helpers/fixtures.js';
import { showsDesktop, startRdpClient, startXrdp, timeToDesktop, type ProcInfo, type RdpClient, type RdpClientOptions } from '../tests/helpers/rdp-lab.js';
import { startRdpProxy } from '../tests/helpers/rdp-proxy.js';
import { initializeAppliance } from '../appliance/provision/index.js';
import { Appliance } from '../appliance/index.js';
import { loadConfig } from '../appliance/config/index.js';
import { cpuMs, dirBytes, loadAverage, memAvailableKiB, memoryKiB } from './proc-stats.js';

const QUICK = process.env.WARDEN_BENCH_QUICK === '1';
const ROUNDS = QUICK ? 3 : 10;
const SESSIONS = Number(process.env.WARDEN_BENCH_RDP_SESSIONS ?? (QUICK ? 8 : 50));
const HOLD_S = QUICK ? 10 : 30;
const WINDOW_S = QUICK ? 8 : 20;
/** Memory left for the rest of the machine (other work shares it): no more sessions are opened below this. */
const RESERVE_KIB = 3 * 1024 * 1024;
/** Numbers scrolling in the xterm: every frame differs; one pipeline, so one ctrl+c ends it. */
const BUSY_COMMAND = 'seq -w 999999999 | paste - - - - - - - -';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

const mib = (kib: number): string => (kib / 1024).toFixed(1);
const say = (line: string): void => void process.stdout.write(`rdp proxy: ${line}\n`);

/** Summed PSS and RSS (KiB) and CPU (ms) of processes, those that went away between listing and reading left out. */
function total(pids: number[]): { pss: number; rss: number; cpu: number } {
  const t = { pss: 0, rss: 0, cpu: 0 };
  for (const pid of pids) {
    try {
      const m = memoryKiB(pid);
      const c = cpuMs(pid);
      t.pss += m.pss;
      t.rss += m.rss;
      t.cpu += c;
    } catch {
      /* gone */
    }
  }
  return t;
}

/** The CPU (ms) of the target's processes named `comm` (xrdp: the daemon and its connection processes; Xvnc). */
function cpuOf(procs: ProcInfo[], comm: string): number {
  return procs.filter((p) => p.comm === comm).reduce((s, p) => s + p.cpuMs, 0);
}

async function main(): Promise<void> {
  const load0 = loadAverage();
  const tmp = tempDir('warden-bench-rdp-');
  const homeDir = path.join(tmp.dir, 'home');
  const configFile = path.join(homeDir, 'warden.json');
  // No test Argon2 cost: the proxy's logins pay what they pay on the appliance.
  const init = await initializeAppliance({ home: homeDir, configFile, adminUsername: 'admin', web: { listen: '127.0.0.1', httpsPort: 0, httpPort: 0, publicHost: '127.0.0.1' }, anchorFile: path.join(tmp.dir, 'anchor', 'audit-anchor.log') });
  const home: InitializedHome = { ...init, home: homeDir, configFile, cleanup: tmp.cleanup };
  const target = await startXrdp({ user: 'wrdpbench', policy: 'UBC' });
  const a = await Appliance.open(loadConfig({ WARDEN_HOME: homeDir }));
  const recordingsDir = loadConfig({ WARDEN_HOME: homeDir }).recordings.dir;
  const admin = { username: 'admin', ip: '127.0.0.1' };
  const first = strongPassword();
  const password = strongPassword();
  const { user } = await a.users.create(admin, { username: 'bench', fullName: 'bench', email: 'bench@example.test', profile: 'privileged-access-user', password: first });
  await a.auth.changePassword({ userId: user.id, currentPassword: first, newPassword: password, ip: '127.0.0.1' });
  const device = await a.devices.createDevice(admin, { hostname: 'win01', address: '127.0.0.1', connectivity: `RDP:${target.port}` });
  const cred = await a.credentials.createCredential(admin, { deviceId: device.id, username: target.user, secret: target.password });
  await a.accessGroups.saveGroup(admin, { name: 'bench', userIds: [user.id], deviceIds: [device.id], credentialIds: [cred.id] });
  let proxy = await startRdpProxy(home);
  let pid = proxy.proc.pid!;
  const direct: RdpClientOptions = { port: target.port, user: target.user, password: target.password };
  const proxied: RdpClientOptions = { port: proxy.port, user: 'bench@win01', password };
  const clients: RdpClient[] = [];

  const liveRows = () => a.store.repos.proxySessions.live(1000);
  const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(200);
    }
  };

  try {
    say(`machine: ${(await import('node:os')).cpus().length} cores, ${mib(memAvailableKiB() / 1024)} GiB available, load average ${load0.toFixed(2)} at the start${QUICK ? ' (quick run)' : ''}`);

    // 1. Time to desktop. One of each first: the certificate pinned, the page cache and JIT warm.
    await timeToDesktop({ ...direct, timeoutMs: 60_000 });
    await timeToDesktop({ ...proxied, timeoutMs: 60_000 });
    await target.endSessions();
    const ttd = { direct: [] as number[], proxied: [] as number[] };
    for (let i = 0; i < ROUNDS; i++) {
      for (const which of i % 2 === 0 ? (['direct', 'proxied'] as const) : (['proxied', 'direct'] as const)) {
        ttd[which].push(await timeToDesktop({ ...(which === 'direct' ? direct : proxied), timeoutMs: 60_000 }));
      }
      await target.endSessions();
    }
    const [d, p] = [median(ttd.direct), median(ttd.proxied)];
    const paired = median(ttd.proxied.map((x, k) => x / ttd.direct[k]!));
    const extra = median(ttd.proxied.map((x, k) => x - ttd.direct[k]!));
    say(`time to desktop (spawn of xfreerdp to the first frame showing the desktop, a new session each; median of ${ROUNDS} paired rounds): direct ${d.toFixed(0)} ms, proxied ${p.toFixed(0)} ms, ratio ${(p / d).toFixed(2)}x (median of per-round ratios ${paired.toFixed(2)}x, of per-round differences ${extra.toFixed(0)} ms; goal <= 1.1x)`);
    say(`  direct runs ${ttd.direct.map((x) => x.toFixed(0)).join(' ')} ms; proxied runs ${ttd.proxied.map((x) => x.toFixed(0)).join(' ')} ms (the proxied figure includes the Warden login at production Argon2id cost)`);

    // 2 + 3. One session direct and one proxied, each through a counting TCP relay (bytes on the wire, TLS
    // included, the same measure for both): idle (proxied only), then busy.
    const wire = { bytes: 0 };
    const relayTo = (port: number): Promise<net.Server> =>
      new Promise((resolve) => {
        const server = net.createServer((from) => {
          const to = net.connect(port, '127.0.0.1');
          for (const s of [from, to]) {
            s.setNoDelay(true);
            s.on('error', () => {});
          }
          from.on('data', (b: Buffer) => ((wire.bytes += b.length), to.write(b)));
          to.on('data', (b: Buffer) => ((wire.bytes += b.length), from.write(b)));
          from.on('close', () => to.destroy());
          to.on('close', () => from.destroy());
        });
        server.listen(0, '127.0.0.1', () => resolve(server));
      });
    const busyRun = async (to: RdpClientOptions, relayed: net.Server, idle: boolean) => {
      const c = await startRdpClient({ ...to, port: (relayed.address() as net.AddressInfo).port });
      clients.push(c);
      await c.waitForDesktop(60_000);
      await sleep(3000); // settled
      let idleOut: { recPerMin: number; cpuPct: number; seconds: number } | undefined;
      if (idle) {
        const i0 = { rec: dirBytes(recordingsDir), cpu: cpuMs(pid), at: performance.now() };
        await sleep(WINDOW_S * 1000);
        const i1 = { rec: dirBytes(recordingsDir), cpu: cpuMs(pid), at: performance.now() };
        idleOut = { recPerMin: ((i1.rec - i0.rec) * 60_000) / (i1.at - i0.at), cpuPct: ((i1.cpu - i0.cpu) / (i1.at - i0.at)) * 100, seconds: (i1.at - i0.at) / 1000 };
      }
      const b0 = { wire: wire.bytes, rec: dirBytes(recordingsDir), cpu: cpuMs(pid), main: cpuMs(pid, pid), target: target.processes(), client: total(c.pids()).cpu };
      await c.type(BUSY_COMMAND);
      await c.key('Return');
      const t0 = performance.now();
      await sleep(WINDOW_S * 1000);
      const rec = dirBytes(recordingsDir);
      const seconds = (performance.now() - t0) / 1000;
      await c.key('ctrl+c');
      await sleep(3000); // quiet again: bytes and CPU then cover the same traffic
      const b1 = { wire: wire.bytes, cpu: cpuMs(pid), main: cpuMs(pid, pid), target: target.processes(), client: total(c.pids()).cpu };
      await c.stop();
      clients.length = 0;
      await target.endSessions();
      return {
        idle: idleOut,
        seconds,
        mib: (b1.wire - b0.wire) / 1048576,
        recPerMin: ((rec - b0.rec) * 60) / seconds,
        recBytes: rec - b0.rec,
        proxy: b1.cpu - b0.cpu,
        proxyMain: b1.main - b0.main,
        xrdp: cpuOf(b1.target, 'xrdp') - cpuOf(b0.target, 'xrdp'),
        xvnc: cpuOf(b1.target, 'Xvnc') - cpuOf(b0.target, 'Xvnc'),
        client: b1.client - b0.client,
      };
    };
    const directRelay = await relayTo(target.port);
    const proxiedRelay = await relayTo(proxy.port);
    const bd = await busyRun(direct, directRelay, false);
    const bp = await busyRun(proxied, proxiedRelay, true);
    directRelay.close();
    proxiedRelay.close();
    const per = (ms: number, r: { mib: number }): string => (ms / r.mib).toFixed(1);
    say(`busy desktop (\`${BUSY_COMMAND}\` in the xterm for ${bp.seconds.toFixed(0)} s), bytes on the client's wire: direct ${bd.mib.toFixed(1)} MiB (${(bd.mib / bd.seconds).toFixed(2)} MiB/s), proxied ${bp.mib.toFixed(1)} MiB (${(bp.mib / bp.seconds).toFixed(2)} MiB/s), ratio ${(bp.mib / bd.mib).toFixed(2)}x (the proxy turns bulk compression off so the recording can be decoded)`);
    say(`  CPU per MiB proxied: proxy ${per(bp.proxy, bp)} ms (its event loop ${per(bp.proxyMain, bp)} ms), xrdp's connection process ${per(bp.xrdp, bp)} ms, Xvnc ${per(bp.xvnc, bp)} ms, xfreerdp ${per(bp.client, bp)} ms; proxy / xrdp ${(bp.proxy / bp.xrdp).toFixed(2)}x`);
    say(`  CPU per second of busy desktop: proxy ${(bp.proxy / bp.seconds).toFixed(0)} ms; xrdp's connection process direct ${(bd.xrdp / bd.seconds).toFixed(0)} ms, proxied ${(bp.xrdp / bp.seconds).toFixed(0)} ms; xfreerdp direct ${(bd.client / bd.seconds).toFixed(0)} ms, proxied ${(bp.client / bp.seconds).toFixed(0)} ms`);
    say(`idle desktop: proxy CPU ${bp.idle!.cpuPct.toFixed(2)}% of a core over ${bp.idle!.seconds.toFixed(0)} s`);
    say(`recording bytes per minute (${WINDOW_S} s windows, scaled to 60 s): idle ${(bp.idle!.recPerMin / 1024).toFixed(1)} KiB/min, busy ${(bp.recPerMin / 1048576).toFixed(1)} MiB/min (${(bp.recBytes / 1048576 / bp.mib).toFixed(2)} bytes on disk per byte on the proxied wire, ${(bp.recBytes / 1048576 / bd.mib).toFixed(2)} per byte of the direct connection's)`);

    // 4. Sessions held at once.
    // A fresh proxy, so that its growth is the sessions' and not the heap the busy run left behind.
    await proxy.stop();
    proxy = await startRdpProxy(home);
    pid = proxy.proc.pid!;
    proxied.port = proxy.port;
    const targetTotal = () => total(target.processes().map((x) => x.pid));
    const clientTotal = () => total(clients.filter((x) => x.proc.exitCode === null).flatMap((x) => x.pids()));
    // One session first (JIT, TLS contexts, the recording's sealing thread), so the growth is per session.
    const warm = await startRdpClient({ ...proxied, width: 640, height: 480 });
    await warm.waitForDesktop(60_000);
    await warm.stop();
    await until('the warm-up session row to close', async () => (await liveRows()).length === 0);
    await target.endSessions();
    await sleep(2000);
    const base = { proxy: memoryKiB(pid), cpu: cpuMs(pid), target: targetTotal() };
    /** The proxy's PSS after each session: a least-squares slope is steadier than two points under GC. */
    const pssBySessions: [number, number][] = [[0, base.proxy.pss]];
    let stoppedBecause = '';
    const connectMs: number[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      if (memAvailableKiB() < RESERVE_KIB) {
        stoppedBecause = `memory available fell under ${mib(RESERVE_KIB / 1024)} GiB`;
        break;
      }
      const held = await startRdpClient({ ...proxied, width: 640, height: 480 });
      clients.push(held);
      try {
        connectMs.push(await held.waitForDesktop(90_000));
      } catch (e) {
        stoppedBecause = `session ${i + 1} got no desktop: ${(e as Error).message.split('\n')[0]}`;
        await held.stop();
        clients.pop();
        break;
      }
      pssBySessions.push([clients.length, memoryKiB(pid).pss]);
    }
    const n = clients.length;
    const full = { proxy: memoryKiB(pid), cpu: cpuMs(pid), target: targetTotal(), clients: clientTotal(), available: memAvailableKiB() };
    const holdStart = { cpu: cpuMs(pid), main: cpuMs(pid, pid), target: targetTotal().cpu, at: performance.now() };
    await sleep(HOLD_S * 1000);
    const holdEnd = { cpu: cpuMs(pid), main: cpuMs(pid, pid), target: targetTotal().cpu, at: performance.now(), proxy: memoryKiB(pid) };
    const running = clients.filter((x) => x.proc.exitCode === null && x.proc.signalCode === null).length;
    const open = (await liveRows()).length;
    let showing = 0;
    for (const x of clients) if (x.proc.exitCode === null && showsDesktop(await x.frame())) showing++;
    const holdMs = holdEnd.at - holdStart.at;
    say(`sessions held through one proxy: ${n} of ${SESSIONS}${stoppedBecause ? ` (stopped: ${stoppedBecause})` : ''}; each connect to desktop took median ${median(connectMs).toFixed(0)} ms, the last ${connectMs.at(-1)?.toFixed(0)} ms; ${mib(full.available / 1024)} GiB of memory still available with all held`);
    say(`  after ${(holdMs / 1000).toFixed(0)} s held: ${running}/${n} clients still connected, ${showing}/${n} still showing the desktop, ${open} sessions open in the store`);
    say(`  proxy: RSS ${mib(base.proxy.rss)} -> ${mib(full.proxy.rss)} MiB, PSS ${mib(base.proxy.pss)} -> ${mib(full.proxy.pss)} MiB (${mib(holdEnd.proxy.pss)} MiB at the end of the hold); per session (least-squares slope of PSS over the ${n} connects) ${(slope(pssBySessions) / 1024).toFixed(2)} MiB, (last - first) / n: RSS ${((full.proxy.rss - base.proxy.rss) / n / 1024).toFixed(2)} MiB, PSS ${((full.proxy.pss - base.proxy.pss) / n / 1024).toFixed(2)} MiB`);
    const targetPer = (full.target.pss - base.target.pss) / n;
    const clientPer = full.clients.pss / n;
    say(`  per session PSS: proxy ${(slope(pssBySessions) / 1024).toFixed(2)} MiB, the xrdp target ${mib(targetPer)} MiB (xrdp connection process, Xvnc, xterm, chansrv), the client ${mib(clientPer)} MiB (xfreerdp + Xvfb at 640x480); proxy / target ${(slope(pssBySessions) / targetPer).toFixed(3)}x`);
    say(`  CPU per connection (connect, Warden login, TLS both ways, MCS, recording start, first screens): proxy ${((full.cpu - base.cpu) / n).toFixed(0)} ms, the target ${((full.target.cpu - base.target.cpu) / n).toFixed(0)} ms (${((full.cpu - base.cpu) / (full.target.cpu - base.target.cpu)).toFixed(2)}x)`);
    say(`  CPU while holding ${n} idle sessions: proxy ${(((holdEnd.cpu - holdStart.cpu) / holdMs) * 100).toFixed(2)}% of a core (event loop ${(((holdEnd.main - holdStart.main) / holdMs) * 100).toFixed(2)}%), the target ${(((holdEnd.target - holdStart.target) / holdMs) * 100).toFixed(2)}% (its processes' CPU counted in 10 ms ticks)`);
    const ending = performance.now();
    for (let i = 0; i < clients.length; i += 10) await Promise.all(clients.slice(i, i + 10).map((x) => x.stop()));
    clients.length = 0;
    await until('every session row to close', async () => (await liveRows()).length === 0, 120_000);
    say(`  all ${n} clients stopped and their session rows closed in ${((performance.now() - ending) / 1000).toFixed(1)} s`);
    await target.endSessions();
    say(`machine load average ${loadAverage().toFixed(2)} at the end (${load0.toFixed(2)} at the start)`);
  } finally {
    for (let i = 0; i < clients.length; i += 10) await Promise.all(clients.slice(i, i + 10).map((x) => x.stop().catch(() => {})));
    await proxy.stop();
    if (process.env.WARDEN_BENCH_PROXY_LOG) (await import('node:fs')).writeFileSync(process.env.WARDEN_BENCH_PROXY_LOG, proxy.output());
    await a.close();
    await target.stop();
    home.cleanup();
  }
}

main().catch((e) => {
  process.stderr.write(`bench rdp-proxy: ${(e as Error).stack ?? (e as Error).message}\n`);
  process.exit(1);
});
