// orbit network|dns|hostname|ntp|timezone|services|firewall: the appliance's OS settings from the console.
// They write the real files (systemd-networkd, resolved, /etc/hostname, timesyncd, /etc/localtime) and
// reload the services on the appliance; with --root DIR the same code writes under DIR and reloads nothing.
import { Command, Option } from 'commander';
import {
  describeFamily,
  networkFile,
  plannedNetwork,
  restartServices,
  serviceNames,
  serviceStatus,
  setDns,
  setHostname,
  setNetwork,
  setNtp,
  setTimezone,
  showDns,
  showFirewall,
  showHostname,
  showNetwork,
  showNtp,
  showTimezone,
  validateDns,
  validateHostname,
  validateNtp,
  validateZone,
  WARDEN_UNITS,
  type NetworkSpec,
} from '../../../appliance/system/index.js';
import { CliError, EXIT_USAGE, print, printTable } from '../context.js';
import { AUDIT_NOTE, auditAfter, auditedChange, collect, consoleEvent, target } from '../system-context.js';

const ROOT_NOTE = 'With --root DIR (a global option) the files are written under DIR and nothing is reloaded; without it, on the appliance, the service that reads them is reloaded.';

function helpAfter(cmd: Command, lines: string[]): Command {
  return cmd.addHelpText('after', ['', ...lines, '', ROOT_NOTE, AUDIT_NOTE, 'Exit codes: 0 done, 1 refused (bad input: nothing changed) or failed, 2 usage.'].join('\n'));
}

interface NetworkOptions {
  interface: string;
  dhcp?: boolean;
  address?: string;
  gateway?: string;
  ipv4Off?: boolean;
  ipv6Address?: string;
  ipv6Gateway?: string;
  ipv6Dhcp?: boolean;
  ipv6Auto?: boolean;
  ipv6Off?: boolean;
  json?: boolean;
}

/** The flags as a NetworkSpec; contradictions are usage errors (exit 2), bad values are the module's to refuse. */
export function networkSpecOf(o: NetworkOptions): NetworkSpec {
  const usage = (m: string) => new CliError(m, EXIT_USAGE);
  const v4 = [o.dhcp && '--dhcp', o.address !== undefined && '--address', o.ipv4Off && '--ipv4-off'].filter(Boolean);
  const v6 = [o.ipv6Dhcp && '--ipv6-dhcp', o.ipv6Auto && '--ipv6-auto', o.ipv6Address !== undefined && '--ipv6-address', o.ipv6Off && '--ipv6-off'].filter(Boolean);
  if (v4.length > 1) throw usage(`${v4.join(' and ')} exclude each other: IPv4 is one of DHCP, a static address or off`);
  if (v6.length > 1) throw usage(`${v6.join(' and ')} exclude each other: IPv6 is one of DHCP, router advertisements (auto), a static address or off`);
  if (o.gateway !== undefined && o.address === undefined) throw usage('--gateway goes with --address (a DHCP lease brings its own)');
  if (o.ipv6Gateway !== undefined && o.ipv6Address === undefined) throw usage('--ipv6-gateway goes with --ipv6-address');
  if (v4.length === 0 && v6.length === 0) throw usage('nothing to set: give --dhcp, --address or --ipv4-off, and/or an --ipv6-... option');
  const spec: NetworkSpec = { interface: o.interface };
  if (o.dhcp) spec.ipv4 = { dhcp: true };
  else if (o.ipv4Off) spec.ipv4 = { disabled: true };
  else if (o.address !== undefined) spec.ipv4 = o.gateway === undefined ? { address: o.address } : { address: o.address, gateway: o.gateway };
  if (o.ipv6Dhcp) spec.ipv6 = { dhcp: true };
  else if (o.ipv6Auto) spec.ipv6 = { auto: true };
  else if (o.ipv6Off) spec.ipv6 = { disabled: true };
  else if (o.ipv6Address !== undefined) spec.ipv6 = o.ipv6Gateway === undefined ? { address: o.ipv6Address } : { address: o.ipv6Address, gateway: o.ipv6Gateway };
  return spec;
}

function registerNetwork(program: Command): void {
  const network = program.command('network').description('show or set the addresses of the network interfaces (systemd-networkd)');
  network
    .command('show')
    .description('the interfaces orbit has configured, with their IPv4 and IPv6 settings')
    .option('--interface <name>', 'only this interface')
    .option('--json', 'print as JSON')
    .action(async (opts: { interface?: string; json?: boolean }, cmd: Command) => {
      const all = (await showNetwork(target(cmd))).filter((n) => opts.interface === undefined || n.interface === opts.interface);
      if (opts.json) return print(JSON.stringify({ interfaces: all }));
      if (all.length === 0) return print(opts.interface ? `${opts.interface}: not configured by orbit` : 'no interface configured by orbit yet (orbit network set --interface NAME ...)');
      printTable(all.map((n) => ({ interface: n.interface, ipv4: describeFamily(n.ipv4), ipv6: describeFamily(n.ipv6) })), ['interface', 'ipv4', 'ipv6']);
    });

  const set = network
    .command('set')
    .description('set one interface: static IPv4/IPv6, DHCP, IPv6 router advertisements, or off; a family you do not mention keeps its setting')
    .requiredOption('--interface <name>', 'the interface, e.g. eth0, ens3')
    .option('--dhcp', 'IPv4 by DHCP')
    .option('--address <cidr>', 'static IPv4 address with prefix length, e.g. 192.0.2.10/24')
    .option('--gateway <address>', 'IPv4 default gateway (with --address)')
    .option('--ipv4-off', 'no IPv4 on this interface')
    .option('--ipv6-address <cidr>', 'static IPv6 address with prefix length, e.g. 2001:db8::10/64')
    .option('--ipv6-gateway <address>', 'IPv6 default gateway (with --ipv6-address)')
    .option('--ipv6-dhcp', 'IPv6 by DHCPv6 (and router advertisements)')
    .option('--ipv6-auto', 'IPv6 from router advertisements (SLAAC)')
    .option('--ipv6-off', 'no IPv6 on this interface')
    .option('--json', 'print the resulting settings as JSON');
  helpAfter(set, [
    'Examples:',
    '  orbit network set --interface eth0 --address 192.0.2.10/24 --gateway 192.0.2.1',
    '  orbit network set --interface eth0 --dhcp --ipv6-auto',
    '  orbit network set --interface eth0 --ipv6-address 2001:db8::10/64 --ipv6-gateway 2001:db8::1',
    'A new interface given only IPv4 settings gets IPv6 from router advertisements; given only IPv6, no IPv4.',
    'Written to /etc/systemd/network/10-warden-IFACE.network; live: networkctl reload and reconfigure.',
  ]).action(async (opts: NetworkOptions, cmd: Command) => {
    const spec = networkSpecOf(opts);
    const t = target(cmd);
    const next = await plannedNetwork(t, spec);
    await auditedChange(
      cmd,
      () => consoleEvent({ type: 'system.network', subject: next.interface, detail: { interface: next.interface, ipv4: describeFamily(next.ipv4), ipv6: describeFamily(next.ipv6) } }),
      (applyWith) => setNetwork(t, spec, { applyWith }),
    );
    if (opts.json) return print(JSON.stringify({ interface: next, file: networkFile(next.interface) }));
    print(`${next.interface}: IPv4 ${describeFamily(next.ipv4)}, IPv6 ${describeFamily(next.ipv6)} (${networkFile(next.interface)})`);
  });
}

function registerDns(program: Command): void {
  const dns = program.command('dns').description('show or set the DNS servers and search domains (systemd-resolved)');
  dns
    .command('show')
    .description('the DNS servers and search domains orbit has set')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const d = await showDns(target(cmd));
      if (opts.json) return print(JSON.stringify(d));
      print(`servers: ${d.servers.join(' ') || '(none set)'}`);
      print(`search:  ${d.search.join(' ') || '(none)'}`);
    });
  const set = dns
    .command('set')
    .description('replace the DNS servers (addresses) and search domains')
    .option('--server <address>', 'a DNS server address (repeat for more, in order of preference)', collect, [])
    .option('--search <domain>', 'a search domain (repeat for more)', collect, [])
    .option('--json', 'print the result as JSON');
  helpAfter(set, ['Example:', '  orbit dns set --server 192.0.2.53 --server 2001:db8::53 --search corp.example', 'Written to /etc/systemd/resolved.conf.d/warden.conf; live: systemd-resolved is restarted.']).action(
    async (opts: { server: string[]; search: string[]; json?: boolean }, cmd: Command) => {
      if (opts.server.length === 0) throw new CliError('give at least one --server', EXIT_USAGE);
      const next = validateDns({ servers: opts.server, search: opts.search });
      await auditedChange(cmd, () => consoleEvent({ type: 'system.dns', subject: null, detail: next }), (applyWith) => setDns(target(cmd), next, { applyWith }));
      if (opts.json) return print(JSON.stringify(next));
      print(`DNS servers ${next.servers.join(' ')}${next.search.length ? `, search ${next.search.join(' ')}` : ''}`);
    },
  );
}

function registerHostname(program: Command): void {
  const hostname = program.command('hostname').description("show or set the appliance's host name");
  hostname
    .command('show')
    .description('the host name in /etc/hostname')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const name = await showHostname(target(cmd));
      if (opts.json) return print(JSON.stringify({ hostname: name }));
      print(name ?? '(not set)');
    });
  const set = hostname
    .command('set')
    .description('set the host name (a name or a fully qualified name)')
    .argument('<name>', 'e.g. warden1 or warden1.corp.example')
    .option('--json', 'print the result as JSON');
  helpAfter(set, ['Written to /etc/hostname and the 127.0.1.1 line of /etc/hosts; live: hostnamectl.', 'The web certificate is not changed: make one for the new name with "orbit cert web self-signed" or "orbit cert web csr".']).action(
    async (name: string, opts: { json?: boolean }, cmd: Command) => {
      const t = target(cmd);
      const next = validateHostname(name);
      const previous = await showHostname(t);
      await auditedChange(cmd, () => consoleEvent({ type: 'system.hostname', subject: next, detail: { hostname: next, previous } }), (applyWith) => setHostname(t, next, { applyWith }));
      if (opts.json) return print(JSON.stringify({ hostname: next, previous }));
      print(`host name ${next}${previous && previous !== next ? ` (was ${previous})` : ''}`);
    },
  );
}

function registerNtp(program: Command): void {
  const ntp = program.command('ntp').description('show or set the time servers (systemd-timesyncd)');
  ntp
    .command('show')
    .description('the NTP servers orbit has set')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const n = await showNtp(target(cmd));
      if (opts.json) return print(JSON.stringify(n));
      print(`servers: ${n.servers.join(' ') || "(none set: the distribution's defaults)"}`);
    });
  const set = ntp
    .command('set')
    .description('replace the NTP servers')
    .option('--server <name>', 'an NTP server, by name or address (repeat for more)', collect, [])
    .option('--json', 'print the result as JSON');
  helpAfter(set, ['Example:', '  orbit ntp set --server ntp1.corp.example --server 192.0.2.123', 'Written to /etc/systemd/timesyncd.conf.d/warden.conf; live: systemd-timesyncd is restarted.']).action(
    async (opts: { server: string[]; json?: boolean }, cmd: Command) => {
      if (opts.server.length === 0) throw new CliError('give at least one --server', EXIT_USAGE);
      const next = validateNtp({ servers: opts.server });
      await auditedChange(cmd, () => consoleEvent({ type: 'system.ntp', subject: null, detail: next }), (applyWith) => setNtp(target(cmd), next, { applyWith }));
      if (opts.json) return print(JSON.stringify(next));
      print(`NTP servers ${next.servers.join(' ')}`);
    },
  );
}

function registerTimezone(program: Command): void {
  const tz = program.command('timezone').description("show or set the appliance's time zone");
  tz.command('show')
    .description('the time zone /etc/localtime points to')
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const zone = await showTimezone(target(cmd));
      if (opts.json) return print(JSON.stringify({ timezone: zone }));
      print(zone ?? '(not set: UTC)');
    });
  const set = tz
    .command('set')
    .description('set the time zone (an IANA name the image\'s tzdata knows)')
    .argument('<zone>', 'e.g. Europe/Berlin, America/New_York, UTC')
    .option('--json', 'print the result as JSON');
  helpAfter(set, ['Written as the /etc/localtime symlink and /etc/timezone; the zone is checked against /usr/share/zoneinfo under the root.', 'Audit times stay in UTC; this is the time zone of the console and the system logs.']).action(
    async (zone: string, opts: { json?: boolean }, cmd: Command) => {
      const t = target(cmd);
      const next = validateZone(t, zone);
      const previous = await showTimezone(t);
      await auditedChange(cmd, () => consoleEvent({ type: 'system.timezone', subject: next, detail: { zone: next, previous } }), (applyWith) => setTimezone(t, next, { applyWith }));
      if (opts.json) return print(JSON.stringify({ timezone: next, previous }));
      print(`time zone ${next}${previous && previous !== next ? ` (was ${previous})` : ''}`);
    },
  );
}

function registerServices(program: Command): void {
  const services = program.command('services').description('state and restart of the warden services (systemd units)');
  const names = `one of ${Object.keys(WARDEN_UNITS).join(', ')}, all`;
  services
    .command('status')
    .description('each warden unit: active state, main PID, restarts, the daemon\'s status line')
    .argument('[name]', `${names} (default all)`)
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nOn the appliance only (systemctl); --root does not apply. Exit 1 when a unit is not active.')
    .action(async (name: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const states = await serviceStatus(target(cmd), serviceNames(name));
      if (opts.json) print(JSON.stringify({ services: states }));
      else printTable(states.map((s) => ({ ...s, state: `${s.active}/${s.sub}`, pid: s.pid ?? '-' })), ['name', 'unit', 'state', 'pid', 'restarts', 'status']);
      if (states.some((s) => s.active !== 'active')) process.exitCode = 1;
    });
  services
    .command('restart')
    .description('restart a warden service (or all)')
    .argument('<name>', names)
    .addHelpText('after', `\nOn the appliance only (systemctl restart); --root does not apply. ${AUDIT_NOTE}`)
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const which = serviceNames(name);
      const units = which.map((n) => WARDEN_UNITS[n]);
      await restartServices(target(cmd), which);
      // Recorded once systemctl has done it; not inside a transaction, which the stopping daemons' own
      // last writes would wait behind.
      await auditAfter(cmd, consoleEvent({ type: 'system.service_restart', subject: name, detail: { units } }));
      print(`restarted ${units.join(' ')}`);
    });
}

function registerFirewall(program: Command): void {
  const firewall = program.command('firewall').description('the packet filter (nftables)');
  firewall
    .command('show')
    .description('the policy in /etc/nftables.conf, the ruleset loaded in the kernel (on the appliance), and the cluster peer sets')
    .option('--json', 'print as JSON')
    .addOption(new Option('--section <part>', 'print only one part').choices(['policy', 'ruleset', 'peers']))
    .addHelpText('after', '\nThe database and replication ports (3306, 4444, 4567, 4568) are open only to the addresses in the sets cluster_peers4 and cluster_peers6. Under --root the sets are read from the policy file.')
    .action(async (opts: { json?: boolean; section?: string }, cmd: Command) => {
      const view = await showFirewall(target(cmd));
      if (opts.json) return print(JSON.stringify(view));
      const want = (s: string) => opts.section === undefined || opts.section === s;
      if (want('policy')) {
        print(`# policy: ${view.policyFile}`);
        print(view.policy === null ? '(missing)' : view.policy.trimEnd());
      }
      if (want('ruleset') && view.ruleset !== null) {
        print('# ruleset loaded in the kernel (nft list ruleset)');
        print(view.ruleset.trimEnd());
      }
      if (want('peers')) {
        print(`# cluster peers (${view.peersFrom === 'kernel' ? 'loaded sets' : 'as in the policy file'})`);
        for (const [set, members] of Object.entries(view.peers)) print(`${set}: ${members.join(' ') || '(empty)'}`);
      }
    });
}

export function registerSystem(program: Command): void {
  registerNetwork(program);
  registerDns(program);
  registerHostname(program);
  registerNtp(program);
  registerTimezone(program);
  registerServices(program);
  registerFirewall(program);
}
