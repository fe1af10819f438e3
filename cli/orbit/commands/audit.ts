// orbit audit verify: walk the keyed chain of the audit trail and check it against its anchor.
import type { Command } from 'commander';
import { CliError, print, withAppliance } from '../context.js';

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('inspect the tamper-evident audit trail');
  audit
    .command('verify')
    .description("check every row against its keyed link (HMAC on the token) and the row before it, and the chain's end against the anchor file")
    .option('--no-anchor', 'skip the anchor check (rows cut from the end then go unnoticed)')
    .option('--json', 'print the verdict as JSON')
    .action(async (opts, cmd: Command) => {
      // The links are keyed by the token's audit key: verifying needs the token, like writing does.
      await withAppliance(cmd, async (a) => {
        const verdict = await a.audit.verify({ anchor: opts.anchor !== false });
        if (opts.json) print(JSON.stringify(verdict));
        if (verdict.ok) {
          if (!opts.json) print(`audit trail intact: ${verdict.rows} rows${opts.anchor === false ? ' (anchor not checked)' : `, ${verdict.anchors} anchored heads match (${a.config.audit.anchorFile})`}`);
          return;
        }
        if (!opts.json) print(`audit trail BROKEN at row ${verdict.brokenSeq}: ${verdict.reason} (${verdict.rows} rows verified before it)`);
        throw new CliError('', 1);
      });
    });
}
