// orbit audit verify: walk the hash chain of the audit trail.
import type { Command } from 'commander';
import { CliError, print, withAppliance } from '../context.js';

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('inspect the tamper-evident audit trail');
  audit
    .command('verify')
    .description('check every row of the audit trail against its hash and the row before it')
    .option('--json', 'print the verdict as JSON')
    .action(async (opts, cmd: Command) => {
      await withAppliance(
        cmd,
        async (a) => {
          const verdict = await a.audit.verify();
          if (opts.json) print(JSON.stringify(verdict));
          if (verdict.ok) {
            if (!opts.json) print(`audit trail intact: ${verdict.rows} rows`);
            return;
          }
          if (!opts.json) print(`audit trail BROKEN at row ${verdict.brokenSeq}: ${verdict.reason} (${verdict.rows} rows verified before it)`);
          throw new CliError('', 1);
        },
        { withoutKeys: true },
      );
    });
}
