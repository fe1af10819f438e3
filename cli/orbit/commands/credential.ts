// orbit credential rotate|reconcile|rotations: a vaulted password changed on its target now (the same audited
// RotationService as POST /api/v1/credentials/:id/rotate and /reconcile): set by the account itself over SSH, or
// by its change account, proved by a login, then vaulted; and the queued rotations run now.
import type { Command } from 'commander';
import { isWardenError } from '../../../appliance/errors/index.js';
import { CliError, EXIT_USAGE, cliActor, print, withAppliance } from '../context.js';

export function registerCredential(program: Command): void {
  const credential = program.command('credential').description('vaulted device credentials: rotation and reconciliation');
  credential
    .command('rotate')
    .description('change a credential\'s password or SSH key on its target now (over SSH, proved by a login, then vaulted; on failure the old one stays)')
    .argument('<id>', 'the credential id')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      if (!/^[1-9][0-9]{0,9}$/.test(id)) throw new CliError('the credential id is a positive number', EXIT_USAGE);
      await withAppliance(cmd, async (a) => {
        process.stderr.write(`rotating credential ${id} on its target...\n`);
        try {
          const r = await a.rotation.rotate(cliActor(), Number(id), 'manual');
          const at = new Date(r.rotatedAt).toISOString();
          const key = r.oldKeyRevoked === undefined ? '' : r.oldKeyRevoked ? '; the old key no longer logs in' : '; WARNING: the old key still logs in (see the audit event)';
          print(
            opts.json
              ? JSON.stringify({ rotated: true, credentialId: r.credentialId, executor: r.executor, rotatedAt: at, ...(r.oldKeyRevoked === undefined ? {} : { oldKeyRevoked: r.oldKeyRevoked }) })
              : `credential ${r.credentialId} rotated (${r.executor}) at ${at}; the new ${r.oldKeyRevoked === undefined ? 'password' : 'key'} is in the vault${key}`,
          );
        } catch (e) {
          if (isWardenError(e) && (e.code === 'ROTATION_FAILED' || e.code === 'INPUT_INVALID' || e.code === 'NOT_FOUND' || e.code === 'CONFLICT')) throw new CliError(e.message);
          throw e;
        }
      });
    });
  credential
    .command('reconcile')
    .description('set a new password through the credential\'s change account, without the old one (for a password changed behind the vault\'s back); proved by a login, then vaulted')
    .argument('<id>', 'the credential id')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      if (!/^[1-9][0-9]{0,9}$/.test(id)) throw new CliError('the credential id is a positive number', EXIT_USAGE);
      await withAppliance(cmd, async (a) => {
        process.stderr.write(`reconciling credential ${id} through its change account...\n`);
        try {
          const r = await a.rotation.reconcile(cliActor(), Number(id), 'manual');
          const at = new Date(r.rotatedAt).toISOString();
          print(
            opts.json
              ? JSON.stringify({ reconciled: true, credentialId: r.credentialId, executor: r.executor, drift: r.drift, rotatedAt: at })
              : `credential ${r.credentialId} reconciled (${r.executor}) at ${at}; ${r.drift ? 'the vaulted password had stopped working (drift recorded)' : 'the vaulted password still worked'}; the new one is in the vault`,
          );
        } catch (e) {
          if (isWardenError(e) && (e.code === 'ROTATION_FAILED' || e.code === 'INPUT_INVALID' || e.code === 'NOT_FOUND' || e.code === 'CONFLICT')) throw new CliError(e.message);
          throw e;
        }
      });
    });
  credential
    .command('rotations')
    .description('run the rotations waiting now (after use, by schedule, to reconcile), as the appliance\'s rotation job does')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withAppliance(cmd, async (a) => {
        process.stderr.write('running the queued rotations...\n');
        const r = await a.rotation.runQueue();
        print(opts.json ? JSON.stringify(r) : `${r.rotated} rotated, ${r.failed} failed (tried again later), ${r.dropped} no longer wanted; ${r.queued} newly queued by the schedule`);
      });
    });
}
