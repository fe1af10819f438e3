// orbit credential rotate ID: a vaulted password changed on its target now (the same audited RotationService as
// POST /api/v1/credentials/:id/rotate): set by the account itself over SSH, proved by a login, then vaulted.
import type { Command } from 'commander';
import { isWardenError } from '../../../appliance/errors/index.js';
import { CliError, EXIT_USAGE, cliActor, print, withAppliance } from '../context.js';

export function registerCredential(program: Command): void {
  const credential = program.command('credential').description('vaulted device credentials: rotation');
  credential
    .command('rotate')
    .description('change a credential\'s password on its target now (over SSH, proved by a login, then vaulted; on failure the old one stays)')
    .argument('<id>', 'the credential id')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      if (!/^[1-9][0-9]{0,9}$/.test(id)) throw new CliError('the credential id is a positive number', EXIT_USAGE);
      await withAppliance(cmd, async (a) => {
        process.stderr.write(`rotating credential ${id} on its target...\n`);
        try {
          const r = await a.rotation.rotate(cliActor(), Number(id), 'manual');
          const at = new Date(r.rotatedAt).toISOString();
          print(opts.json ? JSON.stringify({ rotated: true, credentialId: r.credentialId, executor: r.executor, rotatedAt: at }) : `credential ${r.credentialId} rotated (${r.executor}) at ${at}; the new password is in the vault`);
        } catch (e) {
          if (isWardenError(e) && (e.code === 'ROTATION_FAILED' || e.code === 'INPUT_INVALID' || e.code === 'NOT_FOUND' || e.code === 'CONFLICT')) throw new CliError(e.message);
          throw e;
        }
      });
    });
}
