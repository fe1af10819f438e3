// orbit cert web install|csr|self-signed|show and orbit cert ssh show: the web daemon's TLS certificate
// (written to the config's web.tlsCert/web.tlsKey; the running daemon notices the files and swaps its TLS
// context, no restart) and the terminal proxy's SSH host key, as clients will see them.
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import ssh2 from 'ssh2';
import { currentWebCertificate, pendingKeyFile, planSelfSignedWebCertificate, planWebCertificateInstall, planWebCsr, type CertificateFacts, type CsrKeyType, type WebCertificatePlan, type WebTlsFiles } from '../../../appliance/pki/index.js';
import { parseSshPublicKey } from '../../../appliance/auth/index.js';
import { writePrivateFile } from '../../../appliance/config/index.js';
import { CliError, EXIT_USAGE, print } from '../context.js';
import { AUDIT_NOTE, auditedChange, collect, configOrDefaults, consoleEvent } from '../system-context.js';

/** A PEM file a deployer hands over; far above any real certificate or key. */
const MAX_INPUT_BYTES = 1024 * 1024;

function readInput(file: string, what: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (e) {
    throw new CliError(`cannot read the ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (data.length > MAX_INPUT_BYTES) throw new CliError(`the ${what} ${file} is larger than ${MAX_INPUT_BYTES} bytes`);
  return data;
}

function webFiles(cmd: Command): WebTlsFiles {
  const config = configOrDefaults(cmd);
  return { certFile: config.web.tlsCert, keyFile: config.web.tlsKey };
}

function printFacts(f: CertificateFacts, files?: WebTlsFiles): void {
  print(`subject:     ${f.subject}`);
  print(`issuer:      ${f.issuer}${f.selfSigned ? ' (self-signed)' : ''}`);
  print(`names:       ${f.sans.join(', ') || '(none)'}`);
  print(`valid:       ${f.notBefore} to ${f.notAfter}`);
  print(`sha256:      ${f.fingerprint}`);
  print(`serial:      ${f.serial}`);
  print(`chain:       ${f.chainLength} CA certificate(s) after it`);
  if (files) print(`files:       ${files.certFile}, ${files.keyFile}`);
}

async function installPlan(cmd: Command, files: WebTlsFiles, plan: WebCertificatePlan, source: string, json: boolean | undefined): Promise<void> {
  await auditedChange(
    cmd,
    () =>
      consoleEvent({
        type: 'system.web_certificate',
        subject: plan.facts.subject,
        detail: { source, subject: plan.facts.subject, sans: plan.facts.sans, notAfter: plan.facts.notAfter, fingerprint: plan.facts.fingerprint, previousFingerprint: plan.previous?.fingerprint ?? null },
      }),
    async (applyWith) => {
      const write = async () => plan.write();
      await (applyWith ? applyWith(write) : write());
    },
  );
  if (json) return print(JSON.stringify({ installed: plan.facts, previous: plan.previous, usedPendingKey: plan.usedPendingKey, files }));
  print(`installed the web certificate${plan.usedPendingKey ? ' (with the key from the CSR)' : ''}:`);
  printFacts(plan.facts, files);
  print('The running web daemon takes it for new connections within a second or two, without a restart.');
}

function registerWeb(cert: Command): void {
  const web = cert.command('web').description("the web daemon's HTTPS certificate");
  const where = 'The files are the web daemon\'s configured web.tlsCert and web.tlsKey (see --home/--config; with --root and neither, those of the image under the root). The running web daemon watches them and takes a new pair for new connections without a restart; a pair that does not work is refused here, and a broken pair put there by hand is refused by the daemon, which keeps the old one.';

  web
    .command('show')
    .description('the certificate served now: subject, names (SANs), validity, SHA-256 fingerprint')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const files = webFiles(cmd);
      const facts = currentWebCertificate(files);
      const pending = existsSync(pendingKeyFile(files));
      if (opts.json) return print(JSON.stringify({ certificate: facts, files, csrKeyWaiting: pending }));
      if (!facts) throw new CliError(`no readable web certificate at ${files.certFile}`);
      printFacts(facts, files);
      if (pending) print('a key from "orbit cert web csr" waits for its signed certificate (orbit cert web install --cert FILE)');
    });

  web
    .command('install')
    .description('install a certificate from your CA, with its key (or the key of an earlier "csr") and chain')
    .requiredOption('--cert <file>', 'the certificate (PEM); may hold the chain after it')
    .option('--key <file>', 'its private key (PEM, unencrypted); omit to use the key "orbit cert web csr" made')
    .option('--chain <file>', 'the intermediate CA certificates (PEM), leaf\'s issuer first')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      [
        '',
        'Refused, with nothing changed: a key that does not match the certificate, a certificate not valid now, a CA',
        'certificate, one whose extended key usage excludes TLS servers, a chain out of order.',
        where,
        AUDIT_NOTE,
        'Exit codes: 0 installed, 1 refused or failed, 2 usage.',
      ].join('\n'),
    )
    .action(async (opts: { cert: string; key?: string; chain?: string; json?: boolean }, cmd: Command) => {
      const files = webFiles(cmd);
      const plan = planWebCertificateInstall(files, {
        certPem: readInput(opts.cert, 'certificate'),
        ...(opts.key !== undefined ? { keyPem: readInput(opts.key, 'key') } : {}),
        ...(opts.chain !== undefined ? { chainPem: readInput(opts.chain, 'chain') } : {}),
      });
      await installPlan(cmd, files, plan, plan.usedPendingKey ? 'csr' : 'installed', opts.json);
    });

  web
    .command('self-signed')
    .description('make and install a new self-signed certificate (ECDSA P-256) for a host name')
    .option('--host <name>', "the name browsers will use (default: the config's web.publicHost)")
    .option('--days <n>', 'validity in days', '825')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', `\nAlso valid for localhost, 127.0.0.1 and ::1. ${where}\n${AUDIT_NOTE}`)
    .action(async (opts: { host?: string; days: string; json?: boolean }, cmd: Command) => {
      const days = Number(opts.days);
      if (!Number.isInteger(days) || days < 1 || days > 3650) throw new CliError('--days must be a whole number from 1 to 3650', EXIT_USAGE);
      const config = configOrDefaults(cmd);
      const files = { certFile: config.web.tlsCert, keyFile: config.web.tlsKey };
      const plan = await planSelfSignedWebCertificate(files, { host: opts.host ?? config.web.publicHost, days });
      await installPlan(cmd, files, plan, 'self-signed', opts.json);
    });

  web
    .command('csr')
    .description('make a new key (kept on the appliance) and a certificate signing request for your CA')
    .requiredOption('--cn <name>', 'common name: the host name browsers will use')
    .option('--san <name>', 'another DNS name or IP address the certificate must cover (repeat for more)', collect, [])
    .addOption(new Option('--key-type <type>', 'key algorithm').choices(['ec', 'rsa']).default('ec'))
    .option('--organization <name>', 'organization (O=) in the subject')
    .option('--out <file>', 'write the CSR (PEM) to this file instead of printing it')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      [
        '',
        'The key never leaves the appliance: it waits beside the web key until "orbit cert web install --cert SIGNED.pem',
        '[--chain CHAIN.pem]" (no --key) pairs the signed certificate with it. A new CSR replaces a waiting key.',
        'Key types: ec (ECDSA P-256, the default) or rsa (3072 bits) for CAs that want RSA.',
        AUDIT_NOTE,
      ].join('\n'),
    )
    .action(async (opts: { cn: string; san: string[]; keyType: CsrKeyType; organization?: string; out?: string; json?: boolean }, cmd: Command) => {
      const files = webFiles(cmd);
      const plan = await planWebCsr(files, { commonName: opts.cn, sans: opts.san, keyType: opts.keyType, ...(opts.organization !== undefined ? { organization: opts.organization } : {}) });
      // The CSR first: an --out that cannot be written leaves no key waiting for a request nobody has.
      // (0600 like everything orbit writes; a CSR is public, so that is only tidy.)
      if (opts.out) writePrivateFile(path.resolve(opts.out), plan.csrPem);
      await auditedChange(
        cmd,
        () => consoleEvent({ type: 'system.web_csr', subject: plan.subject, detail: { subject: plan.subject, sans: plan.sans, keyType: plan.keyType } }),
        async (applyWith) => {
          const write = async () => plan.write();
          await (applyWith ? applyWith(write) : write());
        },
      );
      if (opts.json) return print(JSON.stringify({ csr: plan.csrPem, subject: plan.subject, sans: plan.sans, keyType: plan.keyType, keyFile: pendingKeyFile(files), out: opts.out ?? null }));
      if (opts.out) print(`CSR for ${plan.subject} (${plan.sans.join(', ')}) written to ${opts.out}; the key waits in ${pendingKeyFile(files)}`);
      else process.stdout.write(plan.csrPem);
    });
}

/** The proxy's host key as ssh-keygen -l shows it: bits, SHA256 fingerprint, algorithm. */
export function hostKeyFingerprint(file: string): { file: string; algorithm: string; bits: number; fingerprint: string } {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CliError(`the terminal proxy has no host key yet at ${file}: it makes one at its first start`);
    throw new CliError(`cannot read the terminal proxy's host key ${file}: ${(e as Error).message}`);
  }
  const parsed = ssh2.utils.parseKey(raw);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) throw new CliError(`the terminal proxy's host key ${file} cannot be read`);
  const pub = parseSshPublicKey(key.getPublicSSH());
  return { file, algorithm: pub.algorithm, bits: pub.bits, fingerprint: pub.fingerprint };
}

const SSH_KEYGEN_NAMES: Record<string, string> = { 'ssh-ed25519': 'ED25519', 'ssh-rsa': 'RSA', 'ecdsa-sha2-nistp256': 'ECDSA', 'ecdsa-sha2-nistp384': 'ECDSA', 'ecdsa-sha2-nistp521': 'ECDSA' };

function registerSsh(cert: Command): void {
  const ssh = cert.command('ssh').description("the SSH proxy's host key");
  ssh
    .command('show')
    .description("the terminal proxy's host key fingerprint (SHA256), as ssh-keygen -l and SSH clients print it")
    .option('--json', 'print as JSON')
    .addHelpText('after', "\nThe key is the config's terminalProxy.hostKey; give users this fingerprint to check at their first connection.")
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const k = hostKeyFingerprint(configOrDefaults(cmd).terminalProxy.hostKey);
      if (opts.json) return print(JSON.stringify({ hostKeys: [k] }));
      print(`${k.bits} ${k.fingerprint} warden terminal proxy (${SSH_KEYGEN_NAMES[k.algorithm] ?? k.algorithm})`);
    });
}

export function registerCert(program: Command): void {
  const cert = program.command('cert').description("the appliance's own certificates and keys: the web TLS certificate, the SSH proxy's host key");
  registerWeb(cert);
  registerSsh(cert);
}
