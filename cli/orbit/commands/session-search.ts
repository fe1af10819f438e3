// orbit session search: who ran a command, where, when, and where in the recording — from the console.
import type { Command } from 'commander';
import { isWardenError } from '../../../appliance/errors/index.js';
import { CliError, EXIT_USAGE, print, printTable, withAppliance } from '../context.js';

/** The `session` command group (shared with the other `orbit session` subcommands, whoever registers first). */
function sessionCommand(program: Command): Command {
  return program.commands.find((c) => c.name() === 'session') ?? program.command('session').description('proxied sessions: live ones, and search over recorded ones');
}

export function registerSessionSearch(program: Command): void {
  sessionCommand(program)
    .command('search')
    .description('find recorded sessions by a command they ran (substring, any case) and/or text in their output')
    .argument('[command]', 'text the command contains, taken literally (e.g. "rm -rf")')
    .option('--text <text>', 'text the output contains')
    .option('--user <name>', 'only sessions of this Warden user')
    .option('--device <host>', 'only sessions to this device (host name or address)')
    .option('--since <when>', 'only from then on: ISO date, epoch ms, or a span back like 7d, 12h, 90m')
    .option('--limit <n>', 'at most this many results (1-1000)', '100')
    .option('--json', 'print the results as JSON')
    .action(async (command: string | undefined, opts, cmd: Command) => {
      await withAppliance(cmd, async (a) => {
        let results;
        try {
          results = await a.sessions.search.find({ command, text: opts.text, user: opts.user, device: opts.device, since: opts.since, limit: opts.limit });
        } catch (e) {
          if (isWardenError(e) && e.code === 'INPUT_INVALID') throw new CliError(e.message, EXIT_USAGE);
          throw e;
        }
        if (opts.json) {
          print(JSON.stringify({ results }));
          return;
        }
        if (results.length === 0) {
          print('no matching sessions');
          return;
        }
        // What a session printed is not allowed to drive the auditor's terminal: control characters go.
        const plain = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ');
        printTable(
          results.map((r) => ({ time: r.time, user: r.user, device: r.device, session: r.sessionId, recording: r.recordingId ?? '-', at: `${r.offsetSeconds}s`, action: r.action ?? '', exit: r.exitStatus === null ? '-' : String(r.exitStatus), match: plain(r.command ?? r.text ?? '') })),
          ['time', 'user', 'device', 'session', 'recording', 'at', 'action', 'exit', 'match'],
        );
      });
    });
}
