// orbit setup: the first-boot setup of the appliance — network, DNS, host name, time zone, time servers,
// web certificate, first administrator, custodian shares, the console account — as a wizard on a terminal
// (tty1 on first boot: os-overlay's warden-firstboot.service) or from flags alone. Everything is checked
// before anything is written; the appliance itself is initialized last (its config file is what marks the
// machine as set up), so a setup that fails half-way can simply be run again.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { networkInterfaces as liveInterfaces } from 'node:os';
import path from 'node:path';
import { Command, Option } from 'commander';
import { isInitialized } from '../../../appliance/provision/index.js';
import { describeFamily, setDns, setHostname, setNetwork, setNtp, setTimezone, type NetworkSpec, type SystemTarget } from '../../../appliance/system/index.js';
import { configPath, homePath, loadConfig } from '../../../appliance/config/index.js';
import { Appliance } from '../../../appliance/index.js';
import { CliError, EXIT_USAGE, cliActor, interactive, print } from '../context.js';
import { systemEnvironment, target } from '../system-context.js';
import { addHashCostOptions, hashCostFromOptions } from '../hash-cost.js';
import { printFirstAdministrator, printShares, provisionAppliance, type Provisioned } from '../provisioning.js';
import { setConsolePassword } from '../console/account.js';
import {
  checkAdminUsername,
  checkCertificate,
  checkConsolePassword,
  checkDns,
  checkHostname,
  checkNetwork,
  checkNtp,
  checkShareCut,
  checkTimezone,
  dnsNeeded,
  familySetting,
  type SetupAnswers,
} from '../setup/answers.js';
import { printSummary, runWizard, type Given } from '../setup/wizard.js';

interface SetupOptions {
  nonInteractive?: boolean;
  interface?: string;
  ipv4?: string;
  gateway?: string;
  ipv6?: string;
  gateway6?: string;
  dns?: string[];
  search?: string[];
  hostname?: string;
  timezone?: string;
  ntp?: string[];
  selfSigned?: boolean;
  webCert?: string;
  webKey?: string;
  adminUser?: string;
  adminName?: string;
  adminEmail?: string;
  custodians?: string;
  threshold?: string;
  sharesDir?: string;
  consolePasswordFile?: string;
  anchorFile?: string;
  start: boolean;
  argon2Memory?: string;
  argon2Iterations?: string;
  argon2Parallelism?: string;
}

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

/** A flag's value checked as the wizard checks the answer; a bad one is a usage error naming the flag. */
function flag<T>(name: string, check: () => T): T {
  try {
    return check();
  } catch (e) {
    if ((e as { code?: string }).code === 'INPUT_INVALID') throw new CliError(`${name}: ${(e as Error).message}`, EXIT_USAGE);
    throw e;
  }
}

async function flagAsync<T>(name: string, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (e) {
    if ((e as { code?: string }).code === 'INPUT_INVALID') throw new CliError(`${name}: ${(e as Error).message}`, EXIT_USAGE);
    throw e;
  }
}

function readPasswordFile(file: string): string {
  // '-' is stdin, so a password never has to be on the command line or in a file.
  const text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  return text.split('\n')[0]!.replace(/\r$/, '');
}

export function registerSetup(program: Command): void {
  const setup = program
    .command('setup')
    .description('first-boot setup: network, DNS, host name, time zone, NTP, web certificate, first administrator, custodian shares, console account')
    .option('--non-interactive', 'never prompt: every answer comes from the flags (missing ones are a usage error)')
    .option('--interface <name>', 'network interface to configure (e.g. ens3)')
    .option('--ipv4 <setting>', 'dhcp, disabled, or a static ADDRESS/PREFIX')
    .option('--gateway <address>', 'IPv4 gateway (with a static --ipv4)')
    .option('--ipv6 <setting>', 'auto (router advertisements, the default), dhcp, disabled, or a static ADDRESS/PREFIX')
    .option('--gateway6 <address>', 'IPv6 gateway (with a static --ipv6)')
    .option('--dns <address>', 'DNS server (repeat for more; required unless an address comes from DHCP)', collect)
    .option('--search <domain>', 'DNS search domain (repeat for more)', collect)
    .option('--hostname <name>', 'host name, the name the web certificate is made for')
    .option('--timezone <zone>', 'time zone, e.g. Europe/Berlin or UTC')
    .option('--ntp <server>', 'NTP server (repeat for more; default: Debian\'s pool servers)', collect)
    .option('--self-signed', 'make a self-signed web certificate for the host name (the default)')
    .option('--web-cert <file>', 'install this PEM certificate (with its chain) for the web interface')
    .option('--web-key <file>', 'the private key of --web-cert (PEM)')
    .option('--admin-user <name>', 'user name of the first administrator (default "admin")')
    .option('--admin-name <text>', 'full name of the first administrator (default "Administrator")')
    .option('--admin-email <address>', 'e-mail of the first administrator')
    .option('--custodians <n>', 'how many custodian shares of the master key to cut (default 3)')
    .option('--threshold <k>', 'how many shares rebuild the master key, at least 2 (default 2)')
    .option('--shares-dir <dir>', 'where to write the share files, ideally a removable medium (default ROOT/root/warden-key-shares)')
    .option('--console-password-file <file>', 'first line: the password of the console account orbit ("-" reads stdin)')
    .option('--anchor-file <file>', 'where the audit chain head is anchored (default /var/log/warden/audit-anchor.log)')
    .addOption(new Option('--no-start', 'do not start warden.target at the end'));
  addHashCostOptions(setup)
    .addHelpText('after', '\nOn a terminal, whatever the flags leave open is asked. The first administrator\'s one-time password is printed once.')
    .action(async (opts: SetupOptions, cmd: Command) => {
      // The global --root: the system files under DIR (and the appliance in ROOT/etc/warden, ROOT/var/lib/warden
      // unless --home/--config say otherwise), nothing reloaded or started.
      const t = target(cmd);
      const env = systemEnvironment(cmd);
      const home = homePath(env);
      const configFile = configPath(env);
      if (await isInitialized(configFile)) {
        throw new CliError(`${configFile} exists: this appliance is already set up (change settings with orbit network, dns, hostname, ntp, cert)`);
      }
      const argon2 = hashCostFromOptions(opts);
      const defaultSharesDir = path.join(t.root, 'root', 'warden-key-shares');
      const given = await givenByFlags(t, opts, defaultSharesDir);
      const ask = !opts.nonInteractive && interactive();
      let answers: SetupAnswers | null;
      if (ask) {
        answers = await runWizard(t, given, defaultSharesDir);
        if (!answers) {
          print('Nothing was changed.');
          throw new CliError('setup cancelled');
        }
      } else {
        answers = complete(given, defaultSharesDir);
        printSummary(answers);
      }
      const provisioned = await applySetup(t, answers, { home, configFile, argon2, anchorFile: opts.anchorFile, start: opts.start });
      await farewell(t, answers, provisioned, ask);
    });
}

/** The answers the flags give, each checked; what they leave open is undefined. */
async function givenByFlags(t: SystemTarget, o: SetupOptions, defaultSharesDir: string): Promise<Given> {
  const g: Given = {};
  if (o.interface) g.interface = o.interface;
  if (o.gateway && !o.ipv4) throw new CliError('--gateway needs a static --ipv4', EXIT_USAGE);
  if (o.gateway6 && !o.ipv6) throw new CliError('--gateway6 needs a static --ipv6', EXIT_USAGE);
  if (o.ipv4) g.ipv4 = flag('--ipv4', () => familySetting(o.ipv4!, o.gateway, 4)) as NonNullable<NetworkSpec['ipv4']>;
  if (o.ipv6) g.ipv6 = flag('--ipv6', () => familySetting(o.ipv6!, o.gateway6, 6));
  if (g.interface && g.ipv4) {
    const network = await flagAsync('--interface', () => checkNetwork(t, { interface: g.interface!, ipv4: g.ipv4!, ipv6: g.ipv6 ?? { auto: true } }));
    g.ipv6 = network.ipv6;
  } else if (g.interface) await flagAsync('--interface', () => checkNetwork(t, { interface: g.interface!, ipv4: { dhcp: true } }));
  if (o.search && !o.dns) throw new CliError('--search needs --dns', EXIT_USAGE);
  if (o.dns) g.dns = flag('--dns', () => checkDns(o.dns!, o.search ?? []));
  if (o.hostname) g.hostname = flag('--hostname', () => checkHostname(o.hostname!));
  if (o.timezone) g.timezone = flag('--timezone', () => checkTimezone(t, o.timezone!));
  if (o.ntp) g.ntp = flag('--ntp', () => checkNtp(o.ntp!));
  if ((o.webCert === undefined) !== (o.webKey === undefined)) throw new CliError('--web-cert and --web-key go together', EXIT_USAGE);
  if (o.webCert && o.selfSigned) throw new CliError('--self-signed and --web-cert exclude each other', EXIT_USAGE);
  if (o.webCert) g.certificate = flag('--web-cert', () => checkCertificate(path.resolve(o.webCert!), path.resolve(o.webKey!), g.hostname));
  else if (o.selfSigned) g.certificate = { selfSigned: true };
  if (o.adminUser) g.adminUsername = flag('--admin-user', () => checkAdminUsername(o.adminUser!));
  if (o.adminName !== undefined) g.adminFullName = o.adminName;
  if (o.adminEmail !== undefined) g.adminEmail = o.adminEmail;
  if (o.custodians !== undefined) g.custodians = Number(o.custodians);
  if (o.threshold !== undefined) g.threshold = Number(o.threshold);
  if (o.sharesDir !== undefined) g.sharesDir = o.sharesDir;
  if (o.custodians !== undefined || o.threshold !== undefined || o.sharesDir !== undefined) {
    flag('--shares-dir', () => checkShareCut(g.custodians ?? 3, g.threshold ?? 2, g.sharesDir ?? defaultSharesDir));
  }
  if (o.consolePasswordFile) {
    const password = readPasswordFile(o.consolePasswordFile);
    g.consolePassword = flag('--console-password-file', () => checkConsolePassword(t.root, password));
  }
  return g;
}

/** Without a terminal: the flags must say everything that has no default; all missing ones are named. */
function complete(g: Given, defaultSharesDir: string): SetupAnswers {
  const missing: string[] = [];
  if (!g.interface) missing.push('--interface');
  if (!g.ipv4) missing.push('--ipv4');
  if (!g.hostname) missing.push('--hostname');
  if (!g.timezone) missing.push('--timezone');
  if (g.consolePassword === undefined) missing.push('--console-password-file');
  const network = g.interface && g.ipv4 ? { interface: g.interface, ipv4: g.ipv4, ipv6: g.ipv6 ?? { auto: true as const } } : undefined;
  if (network && !g.dns && dnsNeeded(network)) missing.push('--dns (no address comes from DHCP)');
  if (missing.length > 0) throw new CliError(`setup without a terminal needs ${missing.join(', ')}`, EXIT_USAGE);
  return {
    network: network!,
    ...(g.dns ? { dns: g.dns } : {}),
    hostname: g.hostname!,
    timezone: g.timezone!,
    ...(g.ntp ? { ntp: g.ntp } : {}),
    certificate: g.certificate ?? { selfSigned: true },
    admin: { username: g.adminUsername ?? 'admin', fullName: g.adminFullName ?? 'Administrator', email: g.adminEmail ?? '' },
    cut: checkShareCut(g.custodians ?? 3, g.threshold ?? 2, g.sharesDir ?? defaultSharesDir),
    consolePassword: g.consolePassword!,
  };
}

interface ApplyOptions {
  home: string;
  configFile: string;
  argon2: ReturnType<typeof hashCostFromOptions>;
  anchorFile?: string | undefined;
  start: boolean;
}

/** Write it all, in an order that leaves a re-runnable machine if a step fails: the appliance comes last. */
async function applySetup(t: SystemTarget, a: SetupAnswers, o: ApplyOptions): Promise<Provisioned> {
  const steps: [string, () => Promise<unknown>][] = [
    [`network (${a.network.interface})`, () => setNetwork(t, a.network)],
    ...(a.dns ? [['DNS servers', () => setDns(t, a.dns!)] as [string, () => Promise<unknown>]] : []),
    [`host name ${a.hostname}`, () => setHostname(t, a.hostname)],
    [`time zone ${a.timezone}`, () => setTimezone(t, a.timezone)],
    ...(a.ntp ? [['time servers', () => setNtp(t, a.ntp!)] as [string, () => Promise<unknown>]] : []),
    ['console account orbit', () => setConsolePassword(t.root, a.consolePassword)],
  ];
  const total = steps.length + 1 + (t.live && o.start ? 1 : 0);
  print('');
  let n = 0;
  for (const [what, run] of steps) {
    print(`[${++n}/${total}] ${what}`);
    await run();
  }
  print(`[${++n}/${total}] appliance: token, master key, web certificate, database, first administrator`);
  const provisioned = await provisionAppliance(
    {
      home: o.home,
      configFile: o.configFile,
      adminUsername: a.admin.username,
      adminFullName: a.admin.fullName,
      adminEmail: a.admin.email,
      web: { publicHost: a.hostname, ...('certPem' in a.certificate ? { certificate: { certPem: a.certificate.certPem, keyPem: a.certificate.keyPem } } : {}) },
      ...(o.argon2 ? { argon2: o.argon2 } : {}),
      ...(o.anchorFile ? { anchorFile: path.resolve(o.anchorFile) } : {}),
      progress: (line) => print(`      ${line}...`),
    },
    a.cut,
  );
  // The OS files were written before the audit trail existed (it is made by the step above), so they cannot
  // share its transaction; what setup configured is recorded as the trail's first change instead.
  const appliance = await Appliance.open(loadConfig({ ...process.env, WARDEN_HOME: o.home, WARDEN_CONFIG: o.configFile }));
  try {
    await appliance.audit.record({
      type: 'system.setup',
      outcome: 'success',
      actor: cliActor().username,
      actorIp: null,
      subject: a.hostname,
      detail: {
        interface: a.network.interface,
        ipv4: describeFamily(a.network.ipv4),
        ipv6: describeFamily(a.network.ipv6),
        dns: a.dns?.servers ?? [],
        search: a.dns?.search ?? [],
        hostname: a.hostname,
        timezone: a.timezone,
        ntp: a.ntp?.servers ?? [],
        certificate: 'selfSigned' in a.certificate ? 'self-signed' : 'installed',
        custodians: a.cut.custodians,
        threshold: a.cut.threshold,
      },
    });
  } finally {
    await appliance.close();
  }
  if (t.live) {
    // The wizard is done for good: at the next boot tty1 gets its getty without the first-boot unit in the
    // transaction (its Conflicts= would drop the getty's start even though its condition then fails).
    await systemctl(['disable', 'warden-firstboot.service']).catch((e) => print(`      (warden-firstboot.service stays enabled: ${(e as Error).message})`));
  }
  if (t.live && o.start) {
    print(`[${++n}/${total}] starting warden.target`);
    await systemctl(['start', 'warden.target']).catch((e) => {
      throw new CliError(`the appliance is set up, but warden.target did not start: ${(e as Error).message} (see orbit services status)`);
    });
  }
  return provisioned;
}

function systemctl(args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile('systemctl', args, { timeout: 120_000 }, (e, _out, err) => (e ? reject(new Error(err.trim() || e.message)) : resolve())),
  );
}

/** Where to connect, the shares and the one-time password; on the console, a pause so they can be noted. */
async function farewell(t: SystemTarget, a: SetupAnswers, p: Provisioned, ask: boolean): Promise<void> {
  print('');
  print('Setup complete.');
  print('');
  printShares(p);
  print('');
  printFirstAdministrator(p);
  print('');
  const urls = [`https://${a.hostname}/`];
  if ('address' in a.network.ipv4) urls.push(`https://${a.network.ipv4.address.split('/')[0]}/`);
  if ('address' in a.network.ipv6) urls.push(`https://[${a.network.ipv6.address.split('/')[0]}]/`);
  if (t.live) {
    for (const addr of liveInterfaces()[a.network.interface] ?? []) {
      if (addr.internal || (addr.family === 'IPv6' && addr.address.startsWith('fe80:'))) continue;
      const url = addr.family === 'IPv6' ? `https://[${addr.address}]/` : `https://${addr.address}/`;
      if (!urls.includes(url)) urls.push(url);
    }
  }
  print(`Connect with a browser to ${urls.join(' or ')} and log in as ${p.adminUsername}.`);
  print('SSH and RDP users reach their devices through this appliance on ports 22 and 3389.');
  if (!t.live) print(`(Written under ${t.root}: nothing was reloaded or started.)`);
  if (ask) {
    const { input } = await import('@inquirer/prompts');
    await input({ message: 'Note the password and take the share files away, then press Enter for the console login' });
  }
}
