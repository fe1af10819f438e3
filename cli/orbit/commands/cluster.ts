// orbit cluster: this appliance as a node of a MariaDB Galera cluster. init (the first node: its store
// moves from SQLite to MariaDB), join PEER (a fresh appliance: master key from custodian shares, sealed
// bundle, state transfer), status, leave, bootstrap (after a full stop).
// On the appliance the server is systemd's mariadb.service with Debian's paths and the standard ports;
// --node-dir DIR (with the port options) runs mariadbd itself with every file under DIR, for tests and
// development; --root DIR writes the firewall's policy under DIR and loads nothing.
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { input } from '@inquirer/prompts';
import {
  STANDARD_PORTS,
  adminOf,
  adminQuery,
  bundleHeader,
  chooseBootstrapNode,
  controlOf,
  createAppDatabase,
  createClusterTls,
  createNodeToken,
  createSstUser,
  datadirIsFresh,
  endpointText,
  generatePassword,
  initializeDatadir,
  installClusterTls,
  layoutOf,
  markSafeToBootstrap,
  mergeEndpoints,
  migrateStore,
  nodePosition,
  openJoinBundle,
  parseEndpoint,
  readBundleFile,
  readNodeState,
  readStatus,
  requireNodeState,
  retireNodeState,
  serverOwner,
  sealJoinBundle,
  tlsFiles,
  waitUntilServing,
  writeBundleFile,
  writeNodeState,
  writeServerConfig,
  type NodePorts,
  type NodeState,
} from '../../../appliance/cluster/index.js';
import { Appliance } from '../../../appliance/index.js';
import { buildConfig, loadConfig, writePrivateFile } from '../../../appliance/config/index.js';
import { combineShares } from '../../../appliance/backup/index.js';
import { verifyKeyCheck, installAuditKeyFromStore, SOFTHSM_MODULE } from '../../../appliance/keys/index.js';
import { createSelfSignedTlsCertificate } from '../../../appliance/pki/index.js';
import { restartServices, setClusterPeers, WARDEN_SERVICE_NAMES } from '../../../appliance/system/index.js';
import { nodeRegistration } from '../../../appliance/nodes/index.js';
import { Store } from '../../../appliance/store/index.js';
import { CliError, EXIT_USAGE, environment, interactive, locations, print, printTable } from '../context.js';
import { collect, consoleEvent, target } from '../system-context.js';

const MEMBERS_META = 'cluster.members';
const APP_USER = 'warden';
const APP_DATABASE = 'warden';
const SST_USER = 'warden_sst';

const HELP_NODE = [
  '',
  'On the appliance the database server is mariadb.service (Debian paths, ports 3306/4567/4568/4444).',
  'With --node-dir DIR and the port options (tests, development) mariadbd runs with every file under DIR.',
  'Exit codes: 0 done, 1 failed or refused (nothing is half-done where it can be undone), 2 usage.',
];

function port(v: string | undefined, name: string, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new CliError(`${name} must be a port (1-65535)`, EXIT_USAGE);
  return n;
}

interface NodeOptions {
  /** false with --no-restart. */
  restart?: boolean;
  name?: string;
  nodeName?: string;
  address?: string;
  nodeDir?: string;
  mysqlPort?: string;
  gmcastPort?: string;
  istPort?: string;
  sstPort?: string;
}

function addNodeOptions(cmd: Command): Command {
  return cmd
    .option('--node-name <name>', "this node's name in the cluster (default: the host name)")
    .option('--address <ip>', 'the address this node listens on and its peers reach it at')
    .option('--node-dir <dir>', 'run mariadbd directly with every file under DIR (tests, development) instead of mariadb.service')
    .option('--mysql-port <port>', 'client port', String(STANDARD_PORTS.mysql))
    .option('--gmcast-port <port>', 'Galera replication port', String(STANDARD_PORTS.gmcast))
    .option('--ist-port <port>', 'incremental state transfer port', String(STANDARD_PORTS.ist))
    .option('--sst-port <port>', 'snapshot state transfer port (mariabackup)', String(STANDARD_PORTS.sst))
    .option('--no-restart', 'leave the warden services running as they are (restart them yourself afterwards)');
}

async function valueOrPrompt(value: string | undefined, flag: string, message: string): Promise<string> {
  if (value !== undefined && value !== '') return value;
  if (!interactive()) throw new CliError(`${flag} is required (no terminal to ask on)`, EXIT_USAGE);
  return input({ message });
}

function portsOf(o: NodeOptions): NodePorts {
  return {
    mysql: port(o.mysqlPort, '--mysql-port', STANDARD_PORTS.mysql),
    gmcast: port(o.gmcastPort, '--gmcast-port', STANDARD_PORTS.gmcast),
    ist: port(o.istPort, '--ist-port', STANDARD_PORTS.ist),
    sst: port(o.sstPort, '--sst-port', STANDARD_PORTS.sst),
  };
}

/** A progress bar on a terminal, a line per table otherwise. */
function copyProgress(): { update: (table: string, done: number, total: number) => void; end: () => void } {
  const tty = Boolean(process.stdout.isTTY);
  let last = '';
  return {
    update(table, done, total) {
      if (tty) {
        const width = 30;
        const filled = total === 0 ? width : Math.round((done / total) * width);
        process.stdout.write(`\r  ${table.padEnd(28).slice(0, 28)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
      } else if (done === total && table !== last) {
        print(`  copied ${table}: ${total} rows`);
      }
      if (done === total) last = table;
    },
    end() {
      if (tty) process.stdout.write('\n');
    },
  };
}

/** warden.json's store section switched to this node's MariaDB (this node first, then the others). */
function switchConfigToMariaDb(configFile: string, s: NodeState, passwordFile: string): void {
  const raw = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, Record<string, unknown>>;
  raw.store = {
    engine: 'mariadb',
    sqlitePath: (raw.store?.sqlitePath as string | undefined) ?? 'warden.db',
    mariadb: { hosts: s.clients.map((c) => ({ host: c.host, port: c.port })), user: s.app.user, database: s.app.database, passwordFile },
  };
  writePrivateFile(configFile, JSON.stringify(raw, null, 2) + '\n');
}

function peerAddresses(s: NodeState): string[] {
  return [...new Set([...s.members.map((m) => m.host), ...(s.allowed ?? [])])];
}

/**
 * The members the cluster's database lists (every join adds itself) merged into this node's state and its
 * server config, so a restart of this node's server finds its peers — the first node's config knew only
 * itself. Read as root over the socket; null when the server does not answer.
 */
async function refreshMembers(home: string, s: NodeState): Promise<NodeState> {
  let rows: (string | null)[][];
  try {
    rows = await adminQuery(adminOf(s), `SELECT value FROM \`${s.app.database}\`.appliance_meta WHERE \`key\` = '${MEMBERS_META}'`);
  } catch {
    return s;
  }
  const listed = rows[0]?.[0] ? (JSON.parse(rows[0][0]) as NodeState['members']) : [];
  const members = mergeEndpoints(s.members, listed);
  if (members.length === s.members.length) return s;
  const next = { ...s, members };
  writeNodeState(home, next);
  writeServerConfig(next);
  return next;
}

/**
 * Let the peers (members and addresses allowed ahead of their join) through the firewall: under --root, or on
 * the appliance itself (mariadb.service, its nftables policy). A --node-dir node without --root is a lab on a
 * development machine, whose own firewall is not orbit's to change.
 */
async function openFirewall(cmd: Command, s: NodeState): Promise<boolean> {
  const t = target(cmd);
  if (t.live && (s.nodeDir !== null || !existsSync('/etc/nftables.conf'))) return false;
  await setClusterPeers(t, peerAddresses(s));
  return true;
}

/**
 * The daemons read the store's section of warden.json when they start: on the appliance (systemd, no --root,
 * mariadb.service) they are restarted here, so none goes on writing to the SQLite file the data has left.
 * With --node-dir or --root, or --no-restart, orbit only says so.
 */
async function restartDaemons(cmd: Command, s: NodeState, restart: boolean): Promise<void> {
  const t = target(cmd);
  if (!restart || !t.live || s.nodeDir !== null || !existsSync('/run/systemd/system')) {
    print('restart the warden services (orbit services restart) so they use the MariaDB store');
    return;
  }
  print('restarting the warden services on the MariaDB store');
  await restartServices(t, [...WARDEN_SERVICE_NAMES]);
}

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('run this appliance as a node of a MariaDB Galera cluster');
  cluster.addOption(new Option('--root <dir>', 'write the firewall policy under DIR and load nothing (tests, image builds)'));

  addNodeOptions(
    cluster
      .command('init')
      .description('start a new cluster on this appliance: its store moves from SQLite to MariaDB; writes the sealed join bundle')
      .option('--name <cluster>', 'the cluster name', 'warden')
      .option('--bundle <file>', 'where to write the join bundle (sealed under the master key)'),
  )
    .addHelpText('after', [...HELP_NODE, '', 'The bundle holds the cluster TLS material and the database passwords, sealed: only a node whose token holds this master key (rebuilt from custodian shares) opens it.'].join('\n'))
    .action(async (opts: NodeOptions & { name: string; bundle?: string }, cmd: Command) => {
      const { home, configFile } = locations(cmd);
      if (readNodeState(home) !== null) throw new CliError('this appliance is already a cluster node (cluster.json exists)');
      const config = loadConfig(environment(cmd));
      if (config.store.engine !== 'sqlite') throw new CliError('the store is not on SQLite: this appliance is already clustered');
      const address = await valueOrPrompt(opts.address, '--address', "this node's address (peers reach it there)");
      const bundleFile = path.resolve(await valueOrPrompt(opts.bundle, '--bundle', 'where to write the join bundle'));
      const s: NodeState = {
        clusterName: opts.name,
        nodeName: opts.nodeName ?? hostname().split('.')[0]!.replace(/[^A-Za-z0-9._-]/g, '-'),
        address,
        ports: portsOf(opts),
        nodeDir: opts.nodeDir ? path.resolve(opts.nodeDir) : null,
        members: [],
        clients: [],
        sst: { user: SST_USER, password: generatePassword() },
        app: { user: APP_USER, database: APP_DATABASE },
      };
      s.members = [{ host: address, port: s.ports.gmcast }];
      s.clients = [{ host: address, port: s.ports.mysql }];
      const layout = layoutOf(s);
      const control = controlOf(s);
      const admin = adminOf(s);
      print(`creating the cluster TLS material for ${s.clusterName}`);
      const tls = await createClusterTls(s.clusterName);
      installClusterTls(tls, tlsFiles(layout), serverOwner(s));
      writeServerConfig(s);
      if (s.nodeDir !== null) await initializeDatadir(layout, { asRoot: true });
      print('starting the database server as a new cluster (bootstrap)');
      await control.start({ bootstrap: true });
      await waitUntilServing(admin, { timeoutMs: 120_000, alive: () => control.running() });
      const appPassword = generatePassword();
      await createSstUser(admin, s.sst.user, s.sst.password);
      await createAppDatabase(admin, { database: s.app.database, user: s.app.user, password: appPassword, hosts: ['%'] });
      const passwordFile = path.join(home, 'keys', 'mariadb.password');
      writePrivateFile(passwordFile, `${appPassword}\n`);
      print('moving the store from SQLite to MariaDB');
      const bar = copyProgress();
      const copied = await migrateStore(config.store.sqlitePath, { hosts: s.clients, user: s.app.user, database: s.app.database, socketPath: layout.socket, password: appPassword }, bar.update);
      bar.end();
      const rows = copied.tables.reduce((n, t) => n + t.rows, 0);
      printTable(copied.tables.map((t) => ({ table: t.name, rows: t.rows })), ['table', 'rows']);
      print(`verified: ${copied.tables.length} tables, ${rows} rows on both sides`);
      writeNodeState(home, s);
      switchConfigToMariaDb(configFile, s, passwordFile);
      const a = await Appliance.open(loadConfig(environment(cmd)));
      try {
        const applianceId = (await a.store.repos.meta.get('appliance.id')) ?? 'unknown';
        const sealed = await sealJoinBundle(a.keys, {
          clusterName: s.clusterName,
          applianceId,
          members: s.members,
          clients: s.clients,
          tls,
          sst: s.sst,
          app: { user: s.app.user, password: appPassword, database: s.app.database },
          createdAt: new Date().toISOString(),
        });
        await a.audit.withChange(consoleEvent({ type: 'cluster.initialized', subject: s.clusterName, detail: { cluster: s.clusterName, node: s.nodeName, address, tables: copied.tables.length, rows } }), async (repos) => {
          await repos.meta.set(MEMBERS_META, JSON.stringify(s.members));
          // Peers fetch this node's recordings at its web daemon (certificate pinned); those made before the
          // cluster existed are this node's.
          await repos.clusterNodes.register(nodeRegistration(a.config, { at: Date.now() }));
          await repos.recordings.adoptUnowned(a.config.node.id);
        });
        writeBundleFile(bundleFile, sealed);
      } finally {
        await a.close();
      }
      await control.enable();
      print(`cluster ${s.clusterName} started on ${s.nodeName} (${endpointText(s.members[0]!)}); join bundle: ${bundleFile}`);
      await restartDaemons(cmd, s, opts.restart !== false);
    });

  addNodeOptions(
    cluster
      .command('join')
      .description('join a fresh appliance to a cluster: master key from custodian shares, then a state transfer from PEER')
      .argument('<peer>', "a member's host:gmcast-port")
      .option('--bundle <file>', 'the join bundle written by orbit cluster init')
      .option('--share <file>', 'a custodian share file (repeat: at least the threshold)', collect, [])
      .option('--sync-timeout <seconds>', 'how long the state transfer may take', '900'),
  )
    .addHelpText('after', [...HELP_NODE, '', 'The appliance must be fresh (no warden.json): its state comes from the cluster.'].join('\n'))
    .action(async (peerText: string, opts: NodeOptions & { bundle?: string; share: string[]; syncTimeout: string }, cmd: Command) => {
      const { home, configFile } = locations(cmd);
      const peer = (() => {
        try {
          return parseEndpoint(peerText);
        } catch (e) {
          throw new CliError((e as Error).message, EXIT_USAGE);
        }
      })();
      if (existsSync(configFile)) throw new CliError(`${configFile} exists: a node joins as a fresh appliance (its data comes from the cluster)`);
      if (readNodeState(home) !== null) throw new CliError('this appliance is already a cluster node');
      const bundleFile = path.resolve(await valueOrPrompt(opts.bundle, '--bundle', 'the join bundle file'));
      const shareFiles = [...opts.share];
      if (shareFiles.length === 0 && interactive()) {
        for (;;) {
          const f = await input({ message: `share file ${shareFiles.length + 1} (empty to finish)` });
          if (f === '') break;
          shareFiles.push(f);
        }
      }
      if (shareFiles.length === 0) throw new CliError('give the custodian shares with --share FILE (at least the threshold)', EXIT_USAGE);
      const bundleText = readBundleFile(bundleFile);
      const header = bundleHeader(bundleText);
      const address = await valueOrPrompt(opts.address, '--address', "this node's address (peers reach it there)");
      print('1. rebuilding the master key from the custodian shares');
      const material = await combineShares(shareFiles.map((f) => readFileSync(path.resolve(f), 'utf8')), header.applianceId);
      const raw = {
        web: { listen: '0.0.0.0', httpsPort: 443, httpPort: 80, publicHost: 'localhost', tlsCert: 'tls/web.crt', tlsKey: 'tls/web.key' },
        store: { engine: 'sqlite', sqlitePath: 'warden.db' },
        keys: { module: SOFTHSM_MODULE, tokenLabel: 'warden', pinFile: 'keys/token.pin', softhsmConf: 'keys/softhsm2.conf' },
        log: { level: 'info' },
        // Its own identity: recordings and audit rows say which node made them (never 'local' on a cluster).
        node: { id: randomUUID(), name: String(opts.nodeName ?? hostname()) },
      };
      const config = buildConfig(raw, home, configFile);
      const keys = createNodeToken({ softhsmConf: config.keys.softhsmConf!, tokensDir: path.join(home, 'keys', 'tokens'), pinFile: config.keys.pinFile, soPinFile: path.join(home, 'keys', 'token.so-pin'), label: config.keys.tokenLabel }, material);
      let s: NodeState;
      let appPassword: string;
      try {
        print('2. opening the join bundle with the master key');
        const bundle = await openJoinBundle(keys, bundleText);
        appPassword = bundle.app.password;
        const ports = portsOf(opts);
        s = {
          clusterName: bundle.clusterName,
          nodeName: opts.nodeName ?? hostname().split('.')[0]!.replace(/[^A-Za-z0-9._-]/g, '-'),
          address,
          ports,
          nodeDir: opts.nodeDir ? path.resolve(opts.nodeDir) : null,
          members: mergeEndpoints(mergeEndpoints([peer], bundle.members), [{ host: address, port: ports.gmcast }]),
          clients: mergeEndpoints([{ host: address, port: ports.mysql }], bundle.clients),
          sst: bundle.sst,
          app: { user: bundle.app.user, database: bundle.app.database },
        };
        const layout = layoutOf(s);
        if (!datadirIsFresh(layout)) throw new CliError(`${layout.datadir} already holds a database: a joiner receives its data by state transfer`);
        installClusterTls(bundle.tls, tlsFiles(layout), serverOwner(s));
        writeServerConfig(s);
        print(`3. starting the database server: state transfer from ${endpointText(peer)} (mariabackup over TLS)`);
        const control = controlOf(s);
        await control.start();
        await waitUntilServing(adminOf(s), { timeoutMs: Number(opts.syncTimeout) * 1000, alive: () => control.running(), onState: (st) => print(`   ${st}`) });
        print('4. checking the master key against the database and installing the audit key');
        const store = await Store.open({ engine: 'mariadb', mariadb: { hosts: s.clients, user: s.app.user, database: s.app.database, socketPath: layout.socket, password: appPassword } });
        try {
          try {
            await verifyKeyCheck(store, keys);
          } catch (e) {
            await control.stop();
            throw new CliError(`refused: ${(e as Error).message}; the database server was stopped`);
          }
          await installAuditKeyFromStore(store, keys);
        } finally {
          await store.close();
        }
      } finally {
        keys.close();
      }
      print('5. switching warden.json to the MariaDB store, registering this node, opening the cluster ports to peers');
      const passwordFile = path.join(home, 'keys', 'mariadb.password');
      writePrivateFile(passwordFile, `${appPassword}\n`);
      const pair = await createSelfSignedTlsCertificate({ commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'], days: 825 });
      writePrivateFile(config.web.tlsCert, pair.certPem);
      writePrivateFile(config.web.tlsKey, pair.keyPem);
      writePrivateFile(configFile, JSON.stringify(raw, null, 2) + '\n', { exclusive: true });
      writeNodeState(home, s);
      switchConfigToMariaDb(configFile, s, passwordFile);
      const a = await Appliance.open(loadConfig(environment(cmd)));
      try {
        await a.audit.withChange(consoleEvent({ type: 'cluster.joined', subject: s.clusterName, detail: { cluster: s.clusterName, node: s.nodeName, address, peer: endpointText(peer), custodians: shareFiles.length } }), async (repos) => {
          const known = JSON.parse((await repos.meta.get(MEMBERS_META)) ?? '[]') as NodeState['members'];
          await repos.meta.set(MEMBERS_META, JSON.stringify(mergeEndpoints(known, s.members)));
          await repos.clusterNodes.register(nodeRegistration(a.config, { at: Date.now() }));
        });
      } finally {
        await a.close();
      }
      await openFirewall(cmd, s);
      await controlOf(s).enable();
      print(`joined cluster ${s.clusterName} as ${s.nodeName}`);
      await restartDaemons(cmd, s, opts.restart !== false);
    });

  cluster
    .command('status')
    .description("the cluster as this node sees it: size, state, each member's readiness, last committed seqno")
    .option('--json', 'print as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { home } = locations(cmd);
      const s = requireNodeState(home);
      const control = controlOf(s);
      if (!(await control.running())) {
        const pos = await nodePosition(layoutOf(s)).catch(() => null);
        if (opts.json) print(JSON.stringify({ cluster: s.clusterName, node: s.nodeName, running: false, position: pos }));
        else print(`${s.nodeName}: database server stopped${pos ? ` (seqno ${pos.seqno}, safe_to_bootstrap ${pos.safeToBootstrap ? 1 : 0})` : ''}`);
        process.exitCode = 1;
        return;
      }
      const st = await readStatus(adminOf(s));
      const refreshed = await refreshMembers(home, s);
      // A member this node had not heard of is let through its firewall too.
      if (refreshed !== s) await openFirewall(cmd, refreshed);
      if (opts.json) {
        print(JSON.stringify({ cluster: s.clusterName, node: s.nodeName, running: true, ...st }));
        return;
      }
      print(`cluster ${s.clusterName}: size ${st.clusterSize}, ${st.clusterStatus}, this node (${s.nodeName}) ${st.localState}${st.ready ? ', ready' : ', NOT ready'}, last committed seqno ${st.lastCommitted}`);
      const rows = s.clients.map((c) => {
        const addr = endpointText(c);
        return { member: addr, state: st.incomingAddresses.includes(addr) ? 'in the group' : 'absent' };
      });
      for (const extra of st.incomingAddresses.filter((a) => !rows.some((r) => r.member === a))) rows.push({ member: extra, state: 'in the group' });
      printTable(rows, ['member', 'state']);
    });

  cluster
    .command('allow')
    .description("let addresses through this node's firewall to the cluster ports before they join (run on every member)")
    .argument('[address...]', 'IPv4 or IPv6 addresses of appliances about to join')
    .option('--remove', 'take these addresses off the list instead (e.g. after a node left)')
    .option('--list', 'print the addresses let through (members and allowed ones) and change nothing')
    .addHelpText('after', '\nThe cluster ports (3306, 4444, 4567, 4568) are open to the members only. A joining appliance reaches every\nmember, and every member reaches it: before `orbit cluster join`, run `orbit cluster allow NEW_IP` on each member.\nExit codes: 0 done, 1 refused or failed, 2 usage.')
    .action(async (addresses: string[], opts: { remove?: boolean; list?: boolean }, cmd: Command) => {
      const { home } = locations(cmd);
      const s = requireNodeState(home);
      if (opts.list) {
        printTable(peerAddresses(s).map((address) => ({ address, why: s.members.some((m) => m.host === address) ? 'member' : 'allowed' })), ['address', 'why']);
        return;
      }
      if (addresses.length === 0) throw new CliError('name at least one address (or --list)', EXIT_USAGE);
      const bad = addresses.filter((a) => isIP(a) === 0);
      if (bad.length > 0) throw new CliError(`not an IP address: ${bad.join(', ')}`, EXIT_USAGE);
      const before = new Set(s.allowed ?? []);
      const after = new Set(before);
      for (const a of addresses) opts.remove ? after.delete(a) : after.add(a);
      const added = [...after].filter((a) => !before.has(a)).sort();
      const removed = [...before].filter((a) => !after.has(a)).sort();
      if (opts.remove) {
        const members = addresses.filter((a) => s.members.some((m) => m.host === a));
        if (members.length > 0) print(`still let through as members: ${members.join(', ')} (a member that left is taken off at this node's next status)`);
      }
      const next: NodeState = { ...s, allowed: [...after].sort() };
      const a = await Appliance.open(loadConfig(environment(cmd)));
      try {
        await a.audit.withChange(consoleEvent({ type: 'cluster.peers_allowed', subject: s.clusterName, detail: { cluster: s.clusterName, node: s.nodeName, added, removed, allowed: next.allowed! } }), async () => {});
      } finally {
        await a.close();
      }
      writeNodeState(home, next);
      const applied = await openFirewall(cmd, next);
      print(`${applied ? 'firewall' : 'list (no firewall here: --node-dir without --root)'}: ${peerAddresses(next).join(', ')} may reach the cluster ports`);
    });

  cluster
    .command('leave')
    .description("take this node out of the cluster: recorded, then its database server stopped and disabled")
    .addHelpText('after', '\nThe others go on without it. This node\'s daemons lose their store: stop them (orbit services). To come back, join again as a fresh appliance (a full state transfer).')
    .action(async (_opts, cmd: Command) => {
      const { home } = locations(cmd);
      const s = requireNodeState(home);
      const a = await Appliance.open(loadConfig(environment(cmd)));
      try {
        await a.audit.withChange(consoleEvent({ type: 'cluster.left', subject: s.clusterName, detail: { cluster: s.clusterName, node: s.nodeName, address: s.address } }), async (repos) => {
          const known = JSON.parse((await repos.meta.get(MEMBERS_META)) ?? '[]') as NodeState['members'];
          await repos.meta.set(MEMBERS_META, JSON.stringify(known.filter((m) => !(m.host === s.address && m.port === s.ports.gmcast))));
          await repos.clusterNodes.markLeft(a.config.node.id, Date.now());
        });
      } finally {
        await a.close();
      }
      const control = controlOf(s);
      await control.stop();
      await control.disable();
      retireNodeState(home);
      print(`${s.nodeName} left cluster ${s.clusterName}; its database server is stopped and disabled`);
    });

  cluster
    .command('bootstrap')
    .description('after a full stop, start the cluster again from this node (it must hold the latest state)')
    .option('--dry-run', "only print this node's position (seqno, safe_to_bootstrap) to compare nodes")
    .option('--force', 'bootstrap although this node is not marked safe_to_bootstrap (after comparing seqnos on every node)')
    .addHelpText('after', '\nRun with --dry-run on every node; bootstrap the one with safe_to_bootstrap 1, else the highest seqno (--force). Then start the others normally (systemctl start mariadb): they rejoin by IST.\nExit codes: 0 done, 1 refused or failed, 2 usage.')
    .action(async (opts: { dryRun?: boolean; force?: boolean }, cmd: Command) => {
      const { home } = locations(cmd);
      const s = requireNodeState(home);
      const layout = layoutOf(s);
      const control = controlOf(s);
      if (await control.running()) throw new CliError('the database server of this node is running: bootstrap is for a full stop (orbit cluster status)');
      const pos = await nodePosition(layout);
      print(`${s.nodeName}: uuid ${pos.uuid}, seqno ${pos.seqno} (${pos.from === 'grastate' ? 'from grastate.dat' : 'recovered from InnoDB'}), safe_to_bootstrap ${pos.safeToBootstrap ? 1 : 0}`);
      if (opts.dryRun) return;
      const choice = chooseBootstrapNode([{ name: s.nodeName, position: pos }]);
      if (!pos.safeToBootstrap && !opts.force) {
        throw new CliError('refused: this node is not marked safe_to_bootstrap (another node left the cluster after it, or all stopped at once). Compare seqnos with --dry-run on every node and run --force on the highest');
      }
      if (!pos.safeToBootstrap) markSafeToBootstrap(layout);
      print('starting the database server as the cluster\'s first node');
      await control.start({ bootstrap: true });
      const st = await waitUntilServing(adminOf(s), { timeoutMs: 300_000, alive: () => control.running() });
      const reason = pos.safeToBootstrap ? (choice?.reason ?? 'safe_to_bootstrap: 1') : `forced by the operator at seqno ${pos.seqno}`;
      const a = await Appliance.open(loadConfig(environment(cmd)));
      try {
        await a.audit.record(consoleEvent({ type: 'cluster.bootstrapped', subject: s.clusterName, detail: { cluster: s.clusterName, node: s.nodeName, seqno: pos.seqno, reason, forced: !pos.safeToBootstrap } }));
      } finally {
        await a.close();
      }
      print(`cluster ${s.clusterName} bootstrapped from ${s.nodeName} at seqno ${st.lastCommitted}; start the other nodes' servers now`);
    });
}
