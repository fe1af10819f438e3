// The first-boot wizard on tty1: asks, step by step, whatever the flags did not say. Every answer passes
// the same check as its flag before the next question (a wrong one is asked again with the reason); the
// machine is changed only after the deployer has seen the summary and said yes.
import path from 'node:path';
import type { NetworkSpec, SystemTarget } from '../../../appliance/system/index.js';
import { showHostname } from '../../../appliance/system/index.js';
import { print } from '../context.js';
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
  listAnswer,
  networkInterfaces,
  problemOf,
  type SetupAnswers,
  type WebCertificate,
} from './answers.js';

/** What the flags already settled; the wizard asks for the rest. */
export type Given = Partial<Omit<SetupAnswers, 'network'>> & {
  interface?: string;
  ipv4?: NonNullable<NetworkSpec['ipv4']>;
  ipv6?: NonNullable<NetworkSpec['ipv6']>;
  custodians?: number;
  threshold?: number;
  sharesDir?: string;
  adminUsername?: string;
  adminFullName?: string;
  adminEmail?: string;
};

const STEPS = ['Network', 'DNS', 'Host name', 'Time zone', 'Time servers', 'Web certificate', 'First administrator', 'Custodian shares', 'Console account'];

function heading(n: number): void {
  print('');
  // Plain ASCII: the Linux console on tty1 may have no font for box-drawing characters.
  print(`-- Step ${n}/${STEPS.length}: ${STEPS[n - 1]} --`);
}

export async function runWizard(t: SystemTarget, given: Given, defaultSharesDir: string): Promise<SetupAnswers | null> {
  const { input, select, password, confirm, number } = await import('@inquirer/prompts');
  print('Warden first-boot setup. Answer each question; nothing changes until you confirm the summary at the end.');

  heading(1);
  let iface = given.interface;
  if (!iface) {
    const found = networkInterfaces(t.root);
    if (found.length === 0) throw new Error(`no network interface found in ${path.join(t.root, 'sys/class/net')}`);
    iface = await select({
      message: 'Network interface',
      choices: found.map((i) => ({ name: `${i.name}  ${i.mac}  (${i.state})`, value: i.name })),
    });
  }
  let ipv4 = given.ipv4;
  if (!ipv4) {
    const how = await select({ message: 'IPv4', choices: [{ name: 'DHCP', value: 'dhcp' }, { name: 'static address', value: 'static' }, { name: 'disabled', value: 'disabled' }] });
    if (how === 'static') {
      const address = await input({ message: 'IPv4 address with prefix length (e.g. 192.0.2.10/24)', validate: (v) => problemOf(() => familySetting(v, undefined, 4)) });
      const gateway = await input({ message: 'IPv4 gateway (empty for none)', validate: (v) => v.trim() === '' || problemOf(() => familySetting(address, v, 4)) });
      ipv4 = familySetting(address, gateway.trim() || undefined, 4) as NonNullable<NetworkSpec['ipv4']>;
    } else ipv4 = familySetting(how, undefined, 4) as NonNullable<NetworkSpec['ipv4']>;
  }
  let ipv6 = given.ipv6;
  if (!ipv6) {
    const how = await select({
      message: 'IPv6',
      choices: [
        { name: 'automatic (router advertisements)', value: 'auto' },
        { name: 'DHCPv6', value: 'dhcp' },
        { name: 'static address', value: 'static' },
        { name: 'disabled', value: 'disabled' },
      ],
    });
    if (how === 'static') {
      const address = await input({ message: 'IPv6 address with prefix length (e.g. 2001:db8::10/64)', validate: (v) => problemOf(() => familySetting(v, undefined, 6)) });
      const gateway = await input({ message: 'IPv6 gateway (empty for none)', validate: (v) => v.trim() === '' || problemOf(() => familySetting(address, v, 6)) });
      ipv6 = familySetting(address, gateway.trim() || undefined, 6);
    } else ipv6 = familySetting(how, undefined, 6);
  }
  const network = await checkNetwork(t, { interface: iface, ipv4, ipv6 });

  heading(2);
  let dns = given.dns;
  if (!dns) {
    const optional = !dnsNeeded(network);
    const servers = await input({
      message: optional ? 'DNS servers, space separated (empty: those DHCP gives)' : 'DNS servers, space separated',
      validate: (v) => (optional && v.trim() === '') || problemOf(() => checkDns(listAnswer(v), [])),
    });
    if (servers.trim() !== '') {
      const search = await input({ message: 'Search domains, space separated (may be empty)', validate: (v) => problemOf(() => checkDns(listAnswer(servers), listAnswer(v))) });
      dns = checkDns(listAnswer(servers), listAnswer(search));
    }
  }

  heading(3);
  const hostname =
    given.hostname ??
    checkHostname(await input({ message: 'Host name (the name browsers will use, e.g. warden.example.com)', default: (await showHostname(t)) ?? 'warden', validate: (v) => problemOf(() => checkHostname(v)) }));

  heading(4);
  const timezone = given.timezone ?? checkTimezone(t, await input({ message: 'Time zone (e.g. Europe/Berlin, America/New_York, UTC)', default: 'UTC', validate: (v) => problemOf(() => checkTimezone(t, v)) }));

  heading(5);
  let ntp = given.ntp;
  if (!ntp) {
    const servers = await input({ message: 'NTP servers, space separated (empty: Debian\'s pool servers)', validate: (v) => v.trim() === '' || problemOf(() => checkNtp(listAnswer(v))) });
    if (servers.trim() !== '') ntp = checkNtp(listAnswer(servers));
  }

  heading(6);
  let certificate: WebCertificate | undefined = given.certificate;
  if (!certificate) {
    const how = await select({
      message: 'Web (HTTPS) certificate',
      choices: [
        { name: `self-signed for ${hostname} (replace it later with orbit cert web install)`, value: 'self' },
        { name: 'install a certificate and key from files (PEM)', value: 'files' },
      ],
    });
    if (how === 'self') certificate = { selfSigned: true };
    else {
      const certFile = await input({ message: 'Certificate file (PEM, with its chain)', validate: (v) => v.trim() !== '' || 'a file name is needed' });
      const keyFile = await input({ message: 'Private key file (PEM)', validate: (v) => problemOf(() => checkCertificate(certFile.trim(), v.trim(), hostname)) });
      certificate = checkCertificate(certFile.trim(), keyFile.trim(), hostname);
    }
  }

  heading(7);
  const admin = {
    username: given.adminUsername ?? checkAdminUsername(await input({ message: 'First administrator user name', default: 'admin', validate: (v) => problemOf(() => checkAdminUsername(v)) })),
    fullName: given.adminFullName ?? (await input({ message: 'Full name', default: 'Administrator' })),
    email: given.adminEmail ?? (await input({ message: 'E-mail (may be empty)' })),
  };

  heading(8);
  print('The master key is cut into shares for the custodians; any THRESHOLD of them rebuild it (for a restore).');
  const custodians = given.custodians ?? (await number({ message: 'How many custodians', default: 3, min: 2, max: 255, required: true }))!;
  const threshold = given.threshold ?? (await number({ message: 'How many shares rebuild the key', default: 2, min: 2, max: custodians, required: true }))!;
  const sharesDir =
    given.sharesDir ??
    (await input({
      message: 'Where to write the share files (a removable medium, e.g. /media/usb)',
      default: defaultSharesDir,
      validate: (v) => problemOf(() => checkShareCut(custodians, threshold, v.trim())),
    }));
  const cut = checkShareCut(custodians, threshold, sharesDir.trim());

  heading(9);
  let consolePassword = given.consolePassword;
  if (consolePassword === undefined) {
    print('The console account "orbit" logs in on this screen after setup; it runs orbit commands only.');
    const first = await password({ message: 'Password for the console account orbit', mask: '*', validate: (v) => problemOf(() => checkConsolePassword(t.root, v)) });
    await password({ message: 'The same password again', mask: '*', validate: (v) => v === first || 'the two passwords differ: type the first one again' });
    consolePassword = first;
  }

  const answers: SetupAnswers = { network, ...(dns ? { dns } : {}), hostname, timezone, ...(ntp ? { ntp } : {}), certificate, admin, cut, consolePassword };
  print('');
  printSummary(answers);
  const go = await confirm({ message: 'Apply these settings?', default: true });
  return go ? answers : null;
}

export function printSummary(a: SetupAnswers): void {
  const fam = (f: object) => ('dhcp' in f ? 'DHCP' : 'auto' in f ? 'automatic' : 'disabled' in f ? 'disabled' : `${(f as { address: string }).address}${(f as { gateway?: string }).gateway ? ` via ${(f as { gateway?: string }).gateway}` : ''}`);
  print('Summary:');
  print(`  interface:      ${a.network.interface}  IPv4 ${fam(a.network.ipv4)}, IPv6 ${fam(a.network.ipv6)}`);
  print(`  DNS:            ${a.dns ? `${a.dns.servers.join(' ')}${a.dns.search.length ? ` (search ${a.dns.search.join(' ')})` : ''}` : 'from DHCP'}`);
  print(`  host name:      ${a.hostname}`);
  print(`  time zone:      ${a.timezone}`);
  print(`  time servers:   ${a.ntp ? a.ntp.servers.join(' ') : 'Debian pool'}`);
  print(`  certificate:    ${'selfSigned' in a.certificate ? `self-signed for ${a.hostname}` : a.certificate.certFile}`);
  print(`  administrator:  ${a.admin.username}`);
  print(`  key shares:     ${a.cut.custodians} (any ${a.cut.threshold} rebuild the key) in ${a.cut.sharesDir}`);
}
