// What the first-boot setup needs to know, and the checks every answer passes — the same checks for a
// flag and for a wizard prompt, all before anything is written.
import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { validateUsername } from '../../../appliance/access/index.js';
import {
  plannedNetwork,
  validateAddress,
  validateCidr,
  validateDns,
  validateHostname,
  validateNtp,
  validateZone,
  type DnsSettings,
  type NetworkSpec,
  type NtpSettings,
  type SystemTarget,
} from '../../../appliance/system/index.js';
import { InputError } from '../../../appliance/errors/index.js';
import { checkWebCertificate } from '../../../appliance/pki/index.js';
import { consoleAccountProblem, consolePasswordProblem } from '../console/account.js';
import { shareCutProblem, shareFile, type ShareCut } from '../provisioning.js';

export type WebCertificate = { selfSigned: true } | { certFile: string; keyFile: string; certPem: string; keyPem: string };

export interface SetupAnswers {
  network: Required<NetworkSpec>;
  /** Absent: the name servers come from DHCP. */
  dns?: DnsSettings;
  hostname: string;
  timezone: string;
  /** Absent: timesyncd keeps Debian's pool servers. */
  ntp?: NtpSettings;
  certificate: WebCertificate;
  admin: { username: string; fullName: string; email: string };
  cut: ShareCut;
  consolePassword: string;
}

/** An InputError's message (what the wizard shows when it asks again), or the error itself. */
export function problemOf(check: () => unknown): string | true {
  try {
    check();
    return true;
  } catch (e) {
    if (e instanceof InputError || (e as { code?: string }).code === 'INPUT_INVALID') return (e as Error).message;
    throw e;
  }
}

export interface NetworkInterfaceInfo {
  name: string;
  mac: string;
  state: string;
}

/** The machine's network interfaces (ROOT/sys/class/net), loopback left out. */
export function networkInterfaces(root: string): NetworkInterfaceInfo[] {
  const dir = path.join(root, 'sys/class/net');
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const read = (n: string, f: string) => {
    try {
      return readFileSync(path.join(dir, n, f), 'utf8').trim();
    } catch {
      return '';
    }
  };
  return names
    .filter((n) => n !== 'lo')
    .sort()
    .map((name) => ({ name, mac: read(name, 'address'), state: read(name, 'operstate') || 'unknown' }));
}

export function interfaceProblem(root: string, name: string): string | undefined {
  const known = networkInterfaces(root).map((i) => i.name);
  if (!known.includes(name)) {
    return `there is no network interface "${name}" (in ${path.join(root, 'sys/class/net')}: ${known.length ? known.join(', ') : 'none'})`;
  }
  return undefined;
}

/** `dhcp`, `disabled`, `auto` (IPv6) or ADDRESS/PREFIX with an optional gateway, as networkd settings. */
export function familySetting(value: string, gateway: string | undefined, family: 4 | 6): NonNullable<NetworkSpec['ipv6']> {
  const v = value.trim().toLowerCase();
  const name = family === 4 ? '--ipv4' : '--ipv6';
  if (v === 'dhcp' || v === 'disabled' || (family === 6 && v === 'auto')) {
    if (gateway) throw new InputError(`${family === 4 ? '--gateway' : '--gateway6'} needs a static ${name} address`, { field: name });
    return v === 'dhcp' ? { dhcp: true } : v === 'auto' ? { auto: true } : { disabled: true };
  }
  const address = validateCidr(value.trim(), family, family === 4 ? 'IPv4 address' : 'IPv6 address');
  return gateway ? { address, gateway: validateAddress(gateway.trim(), family, family === 4 ? 'IPv4 gateway' : 'IPv6 gateway') } : { address };
}

export async function checkNetwork(t: SystemTarget, spec: NetworkSpec): Promise<Required<NetworkSpec>> {
  const problem = interfaceProblem(t.root, spec.interface);
  if (problem) throw new InputError(problem, { field: 'interface' });
  return plannedNetwork(t, spec);
}

/** Name servers are needed unless some family asks DHCP for them. */
export function dnsNeeded(network: Required<NetworkSpec>): boolean {
  return !('dhcp' in network.ipv4) && !('dhcp' in network.ipv6);
}

export function checkDns(servers: string[], search: string[]): DnsSettings {
  return validateDns({ servers, search });
}

export function checkHostname(name: string): string {
  return validateHostname(name.trim());
}

export function checkTimezone(t: SystemTarget, zone: string): string {
  return validateZone(t, zone.trim());
}

export function checkNtp(servers: string[]): NtpSettings {
  return validateNtp({ servers });
}

/** Words of a "space or comma separated" answer. */
export function listAnswer(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

/** A PEM certificate and its key, read and matched (a key of another certificate is refused). */
export function checkCertificate(certFile: string, keyFile: string, hostname: string | undefined, now = new Date()): Extract<WebCertificate, { certFile: string }> {
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (e) {
      throw new InputError(`cannot read the ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { field: what });
    }
  };
  // The same checks as `orbit cert web install`: key matches, dates, a server certificate, the chain in order.
  const { fullchainPem } = checkWebCertificate({ certPem: read(certFile, 'certificate'), keyPem: read(keyFile, 'key'), keyWhat: `the key in ${keyFile}` }, now.getTime());
  const keyPem = read(keyFile, 'key');
  const leaf = new X509Certificate(fullchainPem);
  if (hostname && leaf.checkHost(hostname) === undefined) {
    throw new InputError(`the certificate in ${certFile} is not for ${hostname} (${leaf.subjectAltName ?? leaf.subject.replace(/\n/g, ', ')})`, { field: 'certificate' });
  }
  const certPem = fullchainPem;
  return { certFile, keyFile, certPem, keyPem };
}

export function checkAdminUsername(name: string): string {
  return validateUsername(name.trim());
}

export function checkShareCut(custodians: number, threshold: number, sharesDir: string): ShareCut {
  const problem = shareCutProblem(custodians, threshold);
  if (problem) throw new InputError(problem.replace('--threshold', 'the threshold').replace('--custodians', 'the number of custodians'), { field: 'shares' });
  const cut = { custodians, threshold, sharesDir: path.resolve(sharesDir) };
  if (existsSync(cut.sharesDir) && readdirSync(cut.sharesDir).some((f) => /^share-\d+-of-\d+\.txt$/.test(f))) {
    throw new InputError(`${cut.sharesDir} already holds share files: remove them, or choose an empty place for the new shares`, { field: 'shares' });
  }
  for (let i = 1; i <= custodians; i++) if (existsSync(shareFile(cut, i))) throw new InputError(`${shareFile(cut, i)} exists`, { field: 'shares' });
  return cut;
}

export function checkConsolePassword(root: string, password: string): string {
  const problem = consolePasswordProblem(password) ?? consoleAccountProblem(root);
  if (problem) throw new InputError(problem, { field: 'console password' });
  return password;
}
