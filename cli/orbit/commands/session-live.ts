// orbit session list | kill: the proxied sessions open now on this appliance (any process, any node), and
// ending one — through the same audited, permission-checked request as the API.
import type { Command } from 'commander';
import { isWardenError } from '../../../appliance/errors/index.js';
import { CliError, EXIT_USAGE, cliActor, print, printTable, withAppliance } from '../context.js';

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** orbit runs as root on the appliance: it acts with an administrator's rights, under its own name. */
function console_(): { username: string; ip: null; profile: string } {
  return { ...cliActor(), profile: 'administrator' };
}

/** The `session` command group (shared with the other `orbit session` subcommands, whoever registers first). */
function sessionCommand(program: Command): Command {
  return program.commands.find((c) => c.name() === 'session') ?? program.command('session').description('proxied sessions: live ones, and search over recorded ones');
}

/** 1536 → "1.5 KiB": the table is read by people; --json keeps exact numbers. */
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

export function registerSessionLive(program: Command): void {
  const session = sessionCommand(program);

  session
    .command('list')
    .description('the sessions open now: user, credential@device, protocol, source, start, bytes so far, recording')
    .option('--limit <n>', 'at most this many (1-10000)', '1000')
    .option('--json', 'print JSON')
    .action(async (opts, cmd: Command) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new CliError('--limit is 1 to 10000', EXIT_USAGE);
      await withAppliance(cmd, async (a) => {
        const live = await a.sessions.liveSessions(console_(), { limit });
        if (opts.json) return print(JSON.stringify({ sessions: live }));
        if (live.length === 0) return print('no live sessions');
        printTable(
          live.map((s) => ({
            id: s.id,
            user: s.user,
            credential: `${s.credential}@${s.device}`,
            protocol: s.protocol,
            source: s.source,
            started: s.startedAt.replace(/\.\d+Z$/, 'Z'),
            'in/out': `${bytes(s.bytesIn)} / ${bytes(s.bytesOut)}`,
            recording: s.recordingId ?? '-',
            state: s.responsive ? 'live' : 'unresponsive',
          })),
          ['id', 'user', 'credential', 'protocol', 'source', 'started', 'in/out', 'recording', 'state'],
        );
      });
    });

  session
    .command('kill')
    .description('end a live session: audited, announced to the process that holds it, which disconnects it within a second')
    .argument('<id>', 'session id (see orbit session list)')
    .option('--reason <text>', 'why (goes to the audit trail)', 'ended by an administrator')
    .action(async (id: string, opts, cmd: Command) => {
      if (!SESSION_ID.test(id)) throw new CliError(`${id} is not a session id (see orbit session list)`, EXIT_USAGE);
      await withAppliance(cmd, async (a) => {
        try {
          await a.sessions.requestEnd(console_(), id, String(opts.reason));
        } catch (e) {
          if (isWardenError(e) && e.code === 'INPUT_INVALID') throw new CliError(e.message, EXIT_USAGE);
          if (isWardenError(e) && e.code === 'NOT_FOUND') throw new CliError(`no open session ${id}`);
          throw e;
        }
        print(`end of session ${id} requested`);
      });
    });
}
