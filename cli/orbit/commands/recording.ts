// orbit recording: the session recordings an auditor reads — list them, verify one (its chunk chain and its
// row), export one as asciicast v2 for `asciinema play`.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import type { Command } from 'commander';
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
  const recording = program.command('recording').description('session recordings: list, verify, export');

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
    .description('export a terminal recording (asciicast v2: asciinema play FILE)')
    .argument('<id>', 'recording id')
    .option('--format <format>', 'asciicast', 'asciicast')
    .option('--output <file>', 'write here (default: standard output)')
    .option('--input', 'include what the user typed ("i" events)')
    .action(async (id: string, opts, cmd: Command) => {
      if (opts.format !== 'asciicast') throw new CliError(`unknown format ${String(opts.format)} (asciicast)`, EXIT_USAGE);
      await withAppliance(cmd, async (a) => {
        const lines = await a.recordings.asciicast(console_(), recordingId(id), { input: opts.input === true });
        // A recording is evidence: the file is created owner-only (orbit's umask) and never over an existing one.
        const out = opts.output ? createWriteStream(path.resolve(opts.output), { flags: 'wx' }) : process.stdout;
        if (opts.output) {
          try {
            await once(out, 'open');
          } catch (e) {
            throw new CliError(`cannot write ${String(opts.output)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
          }
        }
        for await (const line of lines) if (!out.write(line)) await once(out, 'drain');
        if (opts.output) {
          out.end();
          await once(out, 'finish');
          process.stderr.write(`wrote ${path.resolve(opts.output)}\n`);
        }
      });
    });
}
