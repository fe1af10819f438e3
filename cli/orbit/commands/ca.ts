// orbit ca: the trusted certificate authorities for certificate login (install, list, show, disable,
// enable) and their CRLs. The web daemon picks every change up within seconds, without a restart.
import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { MAX_BUNDLE_BYTES } from '../../../appliance/pki/index.js';
import { isWardenError } from '../../../appliance/errors/index.js';
import { CliError, EXIT_USAGE, cliActor, print, printTable, withAppliance } from '../context.js';

function readInput(file: string): Buffer {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new CliError(`${file} is not a regular file`);
    size = st.size;
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (size > MAX_BUNDLE_BYTES) throw new CliError(`${file} is larger than ${MAX_BUNDLE_BYTES} bytes`);
  return readFileSync(file);
}

function caId(value: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(value)) throw new CliError(`"${value}" is not a CA id (see orbit ca list)`, EXIT_USAGE);
  return Number(value);
}

export function registerCa(program: Command): void {
  const ca = program.command('ca').description('trusted certificate authorities for certificate login');

  ca.command('install')
    .description('install a CA certificate or a whole chain (PEM, one or many; or DER); non-CA certificates are refused')
    .argument('<file>', 'PEM or DER file')
    .option('--json', 'print the installed CAs as JSON')
    .option('--force', 'install even a CA whose subject is an installed CA\'s with a different key (the audit trail records the forced install and the collision)')
    .action(async (file: string, opts: { json?: boolean; force?: boolean }, cmd: Command) => {
      const data = readInput(file);
      await withAppliance(cmd, async (a) => {
        let installed;
        try {
          installed = await a.trust.install(data, cliActor(), { force: opts.force === true });
        } catch (e) {
          if (isWardenError(e) && e.code === 'CA_SUBJECT_CONFLICT') {
            throw new CliError(`${e.message}. Make sure which of the two is the genuine CA; to install this one anyway: orbit ca install --force ${file}`);
          }
          throw e;
        }
        if (opts.json) return print(JSON.stringify({ installed }));
        if (installed.length === 0) return print('nothing new: every certificate in the file is already installed');
        for (const c of installed) print(`installed CA ${c.id}: ${c.subject}${c.parentId ? ` (issued by CA ${c.parentId})` : c.selfSigned ? ' (root)' : ''}`);
      });
    });

  ca.command('list')
    .description('list the trusted CAs: id, subject, issuer, validity, fingerprint, active')
    .option('--json', 'print as JSON')
    .action(async (opts, cmd: Command) => {
      await withAppliance(
        cmd,
        async (a) => {
          const cas = await a.trust.list();
          if (opts.json) return print(JSON.stringify({ cas }));
          if (cas.length === 0) return print('no trusted CA installed (orbit ca install FILE)');
          printTable(
            cas.map((c) => ({ ...c, active: c.active ? 'yes' : 'NO', validity: `${c.notBefore.slice(0, 10)}..${c.notAfter.slice(0, 10)}`, fingerprint: c.fingerprint.slice(0, 23) + '…' })),
            ['id', 'subject', 'issuer', 'validity', 'fingerprint', 'active'],
          );
        },
        { withoutKeys: true },
      );
    });

  ca.command('show')
    .description('show one CA in full, with its PEM')
    .argument('<id>', 'CA id from orbit ca list')
    .option('--json', 'print as JSON')
    .action(async (id: string, opts, cmd: Command) => {
      await withAppliance(
        cmd,
        async (a) => {
          const c = await a.trust.get(caId(id));
          if (opts.json) return print(JSON.stringify({ ca: c }));
          print(`id:          ${c.id}`);
          print(`subject:     ${c.subject}`);
          print(`issuer:      ${c.issuer}${c.parentId ? ` (CA ${c.parentId})` : ''}`);
          print(`serial:      ${c.serial}`);
          print(`valid:       ${c.notBefore} .. ${c.notAfter}`);
          print(`fingerprint: ${c.fingerprint}`);
          print(`active:      ${c.active ? 'yes' : 'no'}`);
          print(`installed:   ${c.installedAt} by ${c.installedBy}`);
          print('');
          process.stdout.write(c.pem);
        },
        { withoutKeys: true },
      );
    });

  for (const [name, active] of [['disable', false], ['enable', true]] as const) {
    ca.command(name)
      .description(active ? 'activate a CA again' : 'inactivate a CA: every certificate it issued (directly or through intermediates) stops working')
      .argument('<id>', 'CA id from orbit ca list')
      .action(async (id: string, _opts, cmd: Command) => {
        await withAppliance(cmd, async (a) => {
          const c = await a.trust.setActive(caId(id), active, cliActor());
          print(`CA ${c.id} (${c.subject}) is now ${c.active ? 'active' : 'inactive'}`);
        });
      });
  }

  const crl = ca.command('crl').description('certificate revocation lists');
  crl
    .command('install')
    .description('install a CRL signed by an installed CA (replaces that CA\'s previous CRL)')
    .argument('<file>', 'PEM or DER CRL')
    .action(async (file: string, _opts, cmd: Command) => {
      const data = readInput(file);
      await withAppliance(cmd, async (a) => {
        const r = await a.trust.installCrl(data, cliActor());
        print(`installed CRL of CA ${r.caId} (${r.subject}): ${r.entries} revoked certificate(s)`);
      });
    });
}
