// orbit recording: the session recordings an auditor reads — list them, verify one (its chunk chain and its
// row), export a terminal one as asciicast v2 for `asciinema play`, render an RDP one as PNG pictures of the
// desktop or export it as an MP4 video.
import { createWriteStream, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import type { Command } from 'commander';
import type { Appliance } from '../../../appliance/index.js';
import { fitPicture, type RdpRenderStats } from '../../../appliance/recording/index.js';
import { CliError, EXIT_USAGE, cliActor, print, printTable, withAppliance } from '../context.js';

/** orbit runs as root on the appliance: it reads recordings with an administrator's rights, under its own name. */
function console_(): { username: string; ip: null; profile: string } {
  return { ...cliActor(), profile: 'administrator' };
}

const RECORDING_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function recordingId(id: string): string {
  if (!RECORDING_ID.test(id)) throw new CliError(`${id} is not a recording id (see orbit recording list)`, EXIT_USAGE);
  return id;
}

export function registerRecording(program: Command): void {
  const recording = program.command('recording').description('session recordings: list, verify, export, render');

  recording
    .command('list')
    .description('the newest recordings: session, user, device, start, size, state')
    .option('--user <name>', 'only this Warden user')
    .option('--device <hostname>', 'only this device')
    .option('--limit <n>', 'at most this many (1-1000)', '50')
    .option('--json', 'print JSON')
    .action(async (opts, cmd: Command) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError('--limit is 1 to 1000', EXIT_USAGE);
      await withAppliance(cmd, async (a) => {
        const list = await a.recordings.list(console_(), { limit, ...(opts.user ? { user: String(opts.user) } : {}), ...(opts.device ? { device: String(opts.device) } : {}) });
        if (opts.json) return print(JSON.stringify({ recordings: list }));
        printTable(
          list.map((r) => ({ ...r, credential: `${r.credential}@${r.device}` })),
          ['id', 'user', 'credential', 'source', 'startedAt', 'bytes', 'status'],
        );
      });
    });

  recording
    .command('verify')
    .description('check a recording chunk by chunk (encryption, order, chain) and against its row; exit 1 if it was altered')
    .argument('<id>', 'recording id')
    .option('--json', 'print the verdict as JSON')
    .action(async (id: string, opts, cmd: Command) => {
      await withAppliance(cmd, async (a) => {
        const v = await a.recordings.verify(console_(), recordingId(id));
        if (opts.json) print(JSON.stringify(v));
        else if (!v.ok) print(`recording ${id} FAILED verification: ${v.problem}`);
        else if (v.complete) print(`recording ${id} intact: ${v.chunks} chunks, ${v.events} events, ${(v.verifiedUntilMs / 1000).toFixed(3)} s`);
        else print(`recording ${id} intact but incomplete: ${v.problem}`);
        if (!v.ok) throw new CliError('', 1);
      });
    });

  recording
    .command('export')
    .description('export a recording: a terminal one as asciicast v2 (asciinema play FILE), an RDP one as an MP4 video (ffmpeg)')
    .argument('<id>', 'recording id')
    .option('--format <format>', 'asciicast (terminal) or mp4 (RDP)', 'asciicast')
    .option('--out <file>', 'write here (mp4: required; asciicast default: standard output)')
    .option('--output <file>', 'the same as --out')
    .option('--input', 'asciicast: include what the user typed ("i" events)')
    .option('--fps <n>', 'mp4: frames per second of recording time (1-30)', '5')
    .action(async (id: string, opts, cmd: Command) => {
      const file: string | undefined = opts.out ?? opts.output;
      if (opts.format === 'mp4') {
        if (!file) throw new CliError('--format mp4 needs --out FILE', EXIT_USAGE);
        const fps = Number(opts.fps);
        if (!Number.isInteger(fps) || fps < 1 || fps > 30) throw new CliError('--fps is 1 to 30', EXIT_USAGE);
        await withAppliance(cmd, (a) => exportMp4(a, recordingId(id), path.resolve(file), fps));
        return;
      }
      if (opts.format !== 'asciicast') throw new CliError(`unknown format ${String(opts.format)} (asciicast, mp4)`, EXIT_USAGE);
      await withAppliance(cmd, async (a) => {
        const lines = await a.recordings.asciicast(console_(), recordingId(id), { input: opts.input === true });
        // A recording is evidence: the file is created owner-only (orbit's umask) and never over an existing one.
        const out = file ? createWriteStream(path.resolve(file), { flags: 'wx' }) : process.stdout;
        if (file) {
          try {
            await once(out, 'open');
          } catch (e) {
            throw new CliError(`cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
          }
        }
        for await (const line of lines) if (!out.write(line)) await once(out, 'drain');
        if (file) {
          out.end();
          await once(out, 'finish');
          process.stderr.write(`wrote ${path.resolve(file)}\n`);
        }
      });
    });

  recording
    .command('render')
    .description('render an RDP recording as PNG pictures of the desktop: DIR/frame-000001.png, ... (the last frame always)')
    .argument('<id>', 'recording id')
    .requiredOption('--out <dir>', 'directory for the frames (created if missing; an existing frame is never overwritten)')
    .option('--every <ms>', 'a frame every MS milliseconds of recording time', '1000')
    .option('--last', 'only the final frame (the desktop as the session ended)')
    .option('--json', 'print a summary as JSON')
    .action(async (id: string, opts, cmd: Command) => {
      const every = Number(opts.every);
      if (!Number.isInteger(every) || every < 10 || every > 3_600_000) throw new CliError('--every is 10 to 3600000 ms', EXIT_USAGE);
      const dir = path.resolve(String(opts.out));
      await withAppliance(cmd, async (a) => {
        let stats: RdpRenderStats | undefined;
        const film = await a.recordings.rdpFrames(console_(), recordingId(id), { format: 'png', png: true, everyMs: every, lastOnly: opts.last === true, onEnd: (s) => (stats = s) });
        try {
          mkdirSync(dir, { recursive: true, mode: 0o700 });
        } catch (e) {
          throw new CliError(`cannot create ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
        const progress = new Progress(film.durationMs);
        let n = 0;
        let last = { file: '', atMs: 0 };
        for await (const f of film.frames) {
          const name = `frame-${String(++n).padStart(6, '0')}.png`;
          try {
            writeFileSync(path.join(dir, name), f.png!, { flag: 'wx' });
          } catch (e) {
            throw new CliError(`cannot write ${path.join(dir, name)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
          }
          last = { file: name, atMs: f.atMs };
          progress.at(f.atMs, n);
        }
        progress.done();
        warnSkipped(stats);
        if (opts.json) print(JSON.stringify({ dir, frames: n, last: last.file, lastAtMs: last.atMs, width: film.width, height: film.height, stats }));
        else print(`wrote ${n} frame${n === 1 ? '' : 's'} to ${dir} (last: ${last.file} at ${(last.atMs / 1000).toFixed(3)} s)`);
      });
    });
}

/** Progress on stderr for long work: a line at most every 2 s, none for a short one. */
class Progress {
  private readonly started = Date.now();
  private shown = this.started;
  private printed = false;

  constructor(private readonly totalMs: number) {}

  at(atMs: number, frames: number): void {
    const now = Date.now();
    if (now - this.shown < 2000) return;
    this.shown = now;
    this.printed = true;
    const pct = this.totalMs > 0 ? ` (${Math.min(100, Math.floor((atMs / this.totalMs) * 100))}%)` : '';
    process.stderr.write(`rendering: ${(atMs / 1000).toFixed(1)} s of ${(this.totalMs / 1000).toFixed(1)} s${pct}, ${frames} frames\n`);
  }

  done(): void {
    if (this.printed) process.stderr.write(`rendered in ${((Date.now() - this.started) / 1000).toFixed(1)} s\n`);
  }
}

function warnSkipped(stats: RdpRenderStats | undefined): void {
  if (!stats?.skipped) return;
  process.stderr.write(`warning: ${stats.skipped} malformed or undecodable update(s) skipped, the first: ${stats.problems[0] ?? '?'}\n`);
}

/**
 * The film as MP4 (H.264, yuv420p): raw RGBA frames of the recording's desktop size piped to Debian's ffmpeg
 * at a fixed rate of recording time. ffmpeg writes the file itself, never over an existing one (-n).
 */
async function exportMp4(a: Appliance, id: string, file: string, fps: number): Promise<void> {
  if (existsSync(file)) throw new CliError(`${file} exists: a recording's export is never written over another file`);
  let stats: RdpRenderStats | undefined;
  const film = await a.recordings.rdpFrames(console_(), id, { format: 'mp4', everyMs: 1000 / fps, onEnd: (s) => (stats = s) });
  const { width, height } = film;
  const args = ['-hide_banner', '-loglevel', 'error', '-f', 'rawvideo', '-pix_fmt', 'rgba', '-s', `${width}x${height}`, '-framerate', String(fps), '-i', 'pipe:0',
    // yuv420p (what players expect) needs even sizes: pad an odd edge by one black pixel.
    '-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2', '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', '-n', file];
  const ff = spawn('ffmpeg', args, { stdio: ['pipe', 'ignore', 'pipe'] });
  let errText = '';
  ff.stderr.on('data', (d: Buffer) => (errText = (errText + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    ff.on('error', (e: NodeJS.ErrnoException) => reject(new CliError(e.code === 'ENOENT' ? 'ffmpeg is not installed (Debian package ffmpeg)' : `ffmpeg: ${e.message}`)));
    ff.on('exit', (code) => resolve(code));
  });
  exited.catch(() => {});
  ff.stdin.on('error', () => {}); // ffmpeg gone early: its exit status tells why
  const progress = new Progress(film.durationMs);
  let n = 0;
  try {
    for await (const f of film.frames) {
      // The target may change the desktop size; the film keeps the recording's.
      const rgba = f.width === width && f.height === height ? f.rgba : fitPicture(f.rgba, f.width, f.height, width, height);
      n++;
      progress.at(f.atMs, n);
      if (!ff.stdin.write(rgba)) await Promise.race([once(ff.stdin, 'drain').catch(() => {}), exited]);
      if (ff.exitCode !== null) break;
    }
  } catch (e) {
    ff.kill('SIGKILL');
    await exited.catch(() => {});
    rmSync(file, { force: true });
    throw e;
  }
  ff.stdin.end();
  const code = await exited;
  progress.done();
  if (code !== 0) {
    rmSync(file, { force: true });
    throw new CliError(`ffmpeg failed (exit ${code}): ${errText.trim().split('\n').slice(-3).join(' / ') || 'no message'}`);
  }
  warnSkipped(stats);
  process.stderr.write(`wrote ${file} (${width}x${height}, ${n} frames at ${fps} fps)\n`);
}
