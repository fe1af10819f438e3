// orbit audit verify: walk the keyed chain of the audit trail and check it against its anchor.
// orbit audit types: the catalogue of event types (code, severity, fields) a SIEM or a report is set up from.
import type { Command } from 'commander';
import { auditEventTypes } from '../../../appliance/audit/index.js';
import { CliError, print, printTable, withAppliance } from '../context.js';

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
          if (!opts.json) {
            print(`audit trail intact: ${verdict.rows} rows${opts.anchor === false ? ' (anchor not checked)' : `, ${verdict.anchors} anchored heads match (${a.config.audit.anchorFile})`}`);
            // On a cluster every node appends to the same chain: say whose rows it holds.
            const writers = Object.entries(verdict.nodes).filter(([node]) => node !== '');
            if (writers.length > 1) {
              const parts = Object.entries(verdict.nodes).map(([node, n]) => `${node === '' ? 'before clustering' : node}: ${n}`);
              print(`one chain written by ${writers.length} node${writers.length === 1 ? '' : 's'} (${parts.join(', ')}); this node's anchor checked`);
            }
          }
          return;
        }
        if (!opts.json) print(`audit trail BROKEN at row ${verdict.brokenSeq}: ${verdict.reason} (${verdict.rows} rows verified before it)`);
        throw new CliError('', 1);
      });
    });
  audit
    .command('types')
    .description('list every audit event type with its stable code, severity (and severity on failure) and detail fields')
    .option('--json', 'print the catalogue as JSON')
    .action((opts) => {
      // The catalogue is part of this release, not of an appliance's data: no token, no store needed.
      const types = auditEventTypes();
      if (opts.json) {
        print(JSON.stringify({ eventTypes: types }));
        return;
      }
      printTable(
        types.map((t) => ({ code: t.code, type: t.type, severity: t.severity === t.failureSeverity ? t.severity : `${t.severity}/${t.failureSeverity}`, description: t.description })),
        ['code', 'type', 'severity', 'description'],
      );
    });
}
