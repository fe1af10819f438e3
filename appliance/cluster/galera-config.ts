// The MariaDB server configuration of one Galera node: its paths and ports, the cluster's members, and TLS
// for both replication (Galera's socket.ssl_*) and state transfer (mariabackup streamed through socat over
// OpenSSL, encrypt=3). On the appliance the paths are Debian's and the ports the standard ones; a test or a
// developer runs three nodes on loopback by giving each its own directory and free ports.
import path from 'node:path';
import { InputError } from '../errors/index.js';

export const GALERA_PROVIDER = '/usr/lib/galera/libgalera_smm.so';

/** The standard ports a PAM appliance exposes for a Galera node. */
export const STANDARD_PORTS = { mysql: 3306, gmcast: 4567, ist: 4568, sst: 4444 } as const;

export interface NodePorts {
  /** The MariaDB client port (the app connects to it; peers' app connections may fail over to it). */
  mysql: number;
  /** Galera group communication (replication traffic). */
  gmcast: number;
  /** Incremental state transfer receiver. */
  ist: number;
  /** Snapshot state transfer receiver (mariabackup through socat). */
  sst: number;
}

/** Where one node keeps its server's files. */
export interface NodeLayout {
  /** The server's configuration file (`--defaults-file`). */
  configFile: string;
  datadir: string;
  socket: string;
  pidFile: string;
  errorLog: string;
  /** The cluster's TLS files: ca.pem, node.pem, node.key. */
  tlsDir: string;
}

/** The appliance's layout: Debian's datadir and socket, the config in a conf.d file mariadb.service reads. */
export function applianceLayout(): NodeLayout {
  return {
    configFile: '/etc/mysql/mariadb.conf.d/90-warden-galera.cnf',
    datadir: '/var/lib/mysql',
    socket: '/run/mysqld/mysqld.sock',
    pidFile: '/run/mysqld/mysqld.pid',
    errorLog: '/var/log/mysql/error.log',
    tlsDir: '/etc/mysql/warden-cluster',
  };
}

/** A node whose every file is under one directory (tests, development). */
export function layoutUnder(dir: string): NodeLayout {
  return {
    configFile: path.join(dir, 'my.cnf'),
    datadir: path.join(dir, 'data'),
    socket: path.join(dir, 'mysqld.sock'),
    pidFile: path.join(dir, 'mysqld.pid'),
    errorLog: path.join(dir, 'error.log'),
    tlsDir: path.join(dir, 'tls'),
  };
}

export function tlsFiles(layout: NodeLayout): { ca: string; cert: string; key: string } {
  return { ca: path.join(layout.tlsDir, 'ca.pem'), cert: path.join(layout.tlsDir, 'node.pem'), key: path.join(layout.tlsDir, 'node.key') };
}

export interface Endpoint {
  host: string;
  port: number;
}

export interface GaleraNodeConfig {
  clusterName: string;
  nodeName: string;
  /** The address this node listens on and announces to its peers. */
  address: string;
  ports: NodePorts;
  /** Every member's group communication endpoint (this node included or not: Galera skips itself). */
  members: Endpoint[];
  layout: NodeLayout;
  sst: { user: string; password: string };
  /** `user=root` for a server started as root (tests); the appliance's mariadb.service runs as mysql. */
  runAsRoot?: boolean;
  /** Smaller buffers for a lab of three servers on one small machine. */
  small?: boolean;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const HOST = /^[A-Za-z0-9.:-]{1,253}$/;

function bracketed(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export function endpointText(e: Endpoint): string {
  return `${bracketed(e.host)}:${e.port}`;
}

/** `host:port` (IPv6 in brackets) → an endpoint, the port defaulting to the standard gmcast port. */
export function parseEndpoint(text: string, defaultPort: number = STANDARD_PORTS.gmcast): Endpoint {
  const m = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(text) ?? /^([^:\s]+)(?::(\d+))?$/.exec(text);
  if (!m || !HOST.test(m[1]!)) throw new InputError(`"${text}" is not a host or host:port`, { field: 'peer' });
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InputError(`"${text}": the port must be 1-65535`, { field: 'peer' });
  return { host: m[1]!, port };
}

/** A value for the .cnf file: no newline can smuggle another option in; quoted when it has spaces or ';'. */
function cnfValue(v: string | number): string {
  const s = String(v);
  if (/[\r\n\0]/.test(s)) throw new InputError('a configuration value contains a line break', { field: 'config' });
  return s;
}

export function galeraConfig(c: GaleraNodeConfig): string {
  if (!NAME.test(c.clusterName)) throw new InputError('the cluster name is 1-64 letters, digits, dots, dashes or underscores', { field: 'clusterName' });
  if (!NAME.test(c.nodeName)) throw new InputError('the node name is 1-64 letters, digits, dots, dashes or underscores', { field: 'nodeName' });
  if (!HOST.test(c.address)) throw new InputError(`"${c.address}" is not an address`, { field: 'address' });
  if (!/^[A-Za-z0-9_]{1,32}$/.test(c.sst.user) || /[\s:;"'\\]/.test(c.sst.password)) throw new InputError('the SST user or password has characters the SST script cannot carry', { field: 'sst' });
  const tls = tlsFiles(c.layout);
  const members = c.members.map(endpointText).join(',');
  const provider = [
    `gmcast.listen_addr=tcp://${bracketed(c.address)}:${c.ports.gmcast}`,
    `ist.recv_addr=${bracketed(c.address)}:${c.ports.ist}`,
    `socket.ssl_cert=${tls.cert}`,
    `socket.ssl_key=${tls.key}`,
    `socket.ssl_ca=${tls.ca}`,
    `gcache.size=${c.small ? '64M' : '512M'}`,
    // A node killed and restarted keeps its gcache, so it catches up by IST instead of a full SST.
    'gcache.recover=yes',
  ].join(';');
  const lines = [
    '# Written by orbit cluster: Warden\'s Galera node. Changes are overwritten by the next cluster operation.',
    '[mysqld]',
    ...(c.runAsRoot ? ['user=root'] : []),
    `datadir=${cnfValue(c.layout.datadir)}`,
    `socket=${cnfValue(c.layout.socket)}`,
    `pid-file=${cnfValue(c.layout.pidFile)}`,
    `log-error=${cnfValue(c.layout.errorLog)}`,
    `port=${c.ports.mysql}`,
    `bind-address=${c.address}`,
    'skip-name-resolve',
    'character-set-server=utf8mb4',
    'collation-server=utf8mb4_bin',
    // Galera replicates row events of InnoDB tables only, and needs interleaved auto-increment locks.
    'binlog_format=ROW',
    'default_storage_engine=InnoDB',
    'innodb_autoinc_lock_mode=2',
    ...(c.small ? ['innodb_buffer_pool_size=32M', 'innodb_log_file_size=16M', 'performance_schema=OFF'] : []),
    // The app's own connections over the network are TLS too, with the cluster's certificate.
    `ssl_ca=${cnfValue(tls.ca)}`,
    `ssl_cert=${cnfValue(tls.cert)}`,
    `ssl_key=${cnfValue(tls.key)}`,
    'wsrep_on=ON',
    `wsrep_provider=${GALERA_PROVIDER}`,
    `wsrep_cluster_name=${c.clusterName}`,
    `wsrep_cluster_address=gcomm://${cnfValue(members)}`,
    `wsrep_node_name=${c.nodeName}`,
    `wsrep_node_address=${bracketed(c.address)}:${c.ports.gmcast}`,
    `wsrep_node_incoming_address=${bracketed(c.address)}:${c.ports.mysql}`,
    'wsrep_sst_method=mariabackup',
    `wsrep_sst_auth=${c.sst.user}:${c.sst.password}`,
    `wsrep_sst_receive_address=${bracketed(c.address)}:${c.ports.sst}`,
    `wsrep_provider_options="${cnfValue(provider)}"`,
    '',
    // encrypt=3: socat over OpenSSL with this certificate and key; VERIFY_CA: the peer must hold a
    // certificate of the cluster's own CA (made for this cluster alone, so the chain is the identity).
    '[sst]',
    'encrypt=3',
    `tca=${cnfValue(tls.ca)}`,
    `tcert=${cnfValue(tls.cert)}`,
    `tkey=${cnfValue(tls.key)}`,
    'ssl-mode=VERIFY_CA',
    // The SST script keeps old logs; beside the server's own log, not in /tmp.
    `sst-log-archive-dir=${cnfValue(path.join(path.dirname(c.layout.errorLog), 'sst-log-archive'))}`,
    '',
  ];
  return lines.join('\n');
}
