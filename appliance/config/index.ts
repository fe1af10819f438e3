// Deploy-time configuration: /etc/warden/warden.json (env WARDEN_CONFIG), state under WARDEN_HOME.
// Owns file locations, ports and the modes state files are created with (private-files.ts); runtime policy
// an admin edits lives in the store's settings.
import { readFileSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { WardenError } from '../errors/index.js';

export { restrictUmask, makePrivateDir, writePrivateFile, publishPrivateFile, ensurePrivateFile, restrictExistingFile, isSharedDir, privateFileMode, PRIVATE_FILE_MODE, PRIVATE_DIR_MODE, SHARED_FILE_MODE, SHARED_WRITABLE_FILE_MODE, SHARED_DIR_MODE } from './private-files.js';
export { replaceFile, syncDirectory, type ReplaceFileOptions } from './replace-file.js';

export interface ScryptCost {
  /** CPU/memory cost N, a power of two. */
  cost: number;
  blockSize: number;
  parallelization: number;
}

/** The cost of new password hashes (Argon2id v1.3). */
export interface Argon2Cost {
  /** Memory per hash, KiB (m). */
  memoryKiB: number;
  /** Passes over the memory (t). */
  iterations: number;
  /** Lanes (p). */
  parallelism: number;
}

export interface WardenConfig {
  /** Absolute state directory. */
  home: string;
  /** The file this config was read from (absent when built from defaults). */
  source: string | undefined;
  web: {
    listen: string;
    httpsPort: number;
    httpPort: number;
    /** Listen on httpPort only to redirect to HTTPS (false: no plain-HTTP listener at all). */
    httpRedirect: boolean;
    /** Name used in redirects when the Host header is absent or not trusted. */
    publicHost: string;
    tlsCert: string;
    tlsKey: string;
    /** Largest accepted request body, bytes. */
    bodyLimit: number;
    /**
     * How often an open console terminal checks that its web session still stands (signed out, idle, replaced
     * by a login elsewhere: the terminal ends), and keeps it from going idle while the user types.
     */
    terminalCheckSeconds: number;
  };
  /** The SSH proxy (daemons/terminal-proxy). */
  terminalProxy: {
    listen: string;
    port: number;
    /** Its own SSH host key (Ed25519, OpenSSH format), created 0600 on first start. */
    hostKey: string;
    /** Time a connection has to authenticate (OpenSSH's LoginGraceTime). */
    loginGraceSeconds: number;
    /** Connections not yet authenticated at once; beyond, new ones are dropped (OpenSSH's MaxStartups). */
    maxUnauthenticated: number;
  };
  /** The RDP proxy (daemons/rdp-proxy). */
  rdpProxy: {
    listen: string;
    port: number;
    /**
     * The TLS certificate and key it shows RDP clients (created self-signed, 0600, on first start when both are
     * absent; a deployer may put the web's certificate here). Its own files: the daemon runs as its own user.
     */
    tlsCert: string;
    tlsKey: string;
    /** Time a connection has to authenticate, from the TCP accept to its ClientInfo PDU. */
    loginGraceSeconds: number;
    /** Connections not yet authenticated at once; beyond, new ones are dropped. */
    maxUnauthenticated: number;
    /**
     * Where RDP clients reach the proxy: what the web writes into .rdp files ("full address"). Default: the
     * web's public host name, port 3389.
     */
    publicAddress: { host: string; port: number };
  };
  /**
   * SQLite (one appliance) or MariaDB (a Galera cluster). sqlitePath stays known with MariaDB: where a node's
   * data returns to if it leaves the cluster.
   */
  store: { engine: 'sqlite'; sqlitePath: string } | { engine: 'mariadb'; sqlitePath: string; mariadb: MariaDbStoreConfig };
  keys: {
    module: string;
    tokenLabel: string;
    pinFile: string;
    /** Only for SoftHSM2: its config file; exported as SOFTHSM2_CONF before the module loads. */
    softhsmConf: string | undefined;
  };
  auth: {
    /** The cost of every new password hash; a stored hash of another cost is replaced at its next successful login. */
    argon2: Argon2Cost;
    /**
     * The scrypt cost of earlier configs, still accepted (and validated) so they load. It hashes nothing any more:
     * each stored scrypt hash carries its own parameters and is re-hashed with Argon2id at its next login.
     */
    scrypt: ScryptCost;
    /**
     * CA bundle trusted for the Duo API instead of the SDK's pinned Duo CAs: for a TLS-inspecting proxy,
     * or a local server speaking Duo's protocol in tests. Absent: Duo's pinned CAs.
     */
    duoCaFile: string | undefined;
    /**
     * Tests only: exact loopback "host:port" entries accepted as a Duo API host besides Duo's own names
     * (api-XXXXXXXX.duosecurity.com), for a local server speaking Duo's protocol. Only with duoCaFile.
     * Never a pattern: the web API must not be able to point the appliance's Duo client at other ports.
     */
    duoTestHosts: readonly string[];
  };
  audit: {
    /** The chain head is appended here, outside the state directory, so cutting the newest rows is caught. */
    anchorFile: string;
    /** Anchor every row whose sequence number is a multiple of this (and at every shutdown). */
    anchorEvery: number;
  };
  log: {
    level: 'error' | 'warn' | 'info' | 'debug';
  };
  recordings: {
    /** Where session recordings are written (default <home>/recordings); `orbit backup` carries them. */
    dir: string;
  };
  /**
   * This node's identity in a cluster: the id its recordings are stored under (recordings.node_id) and its
   * row in cluster_nodes. Per node, so here and not in the shared database. Absent: id 'local' (a single
   * appliance from before clustering), name the host name.
   */
  node: { id: string; name: string };
}

/** The node id of a config without one: a single appliance. */
export const LOCAL_NODE_ID = 'local';
/** What a node id may be (a UUID from orbit init, or a name a deployer chose). */
export const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** store.mariadb in warden.json. */
export interface MariaDbStoreConfig {
  /** This node's server first; the other nodes are tried in this order while it is down or not Synced. */
  hosts: { host: string; port: number }[];
  user: string;
  database: string;
  /** A private file (0600/0640) holding the account's password on its first line. */
  passwordFile: string;
  /** This node's server by its Unix socket instead of hosts[0] over TCP. */
  socketPath: string | undefined;
}

/**
 * Where the audit anchor lives when the config does not say: beside the state directory, never inside it
 * (on the appliance /var/log/warden, so a copy of /var/lib/warden does not carry it).
 */
export function defaultAnchorFile(home: string): string {
  if (path.resolve(home) === '/var/lib/warden') return '/var/log/warden/audit-anchor.log';
  return path.join(path.dirname(path.resolve(home)), `${path.basename(home)}-audit-anchor.log`);
}

export const DEFAULT_SCRYPT: ScryptCost = { cost: 131072, blockSize: 8, parallelization: 1 };

/**
 * OWASP's Argon2id minimum (m=19 MiB, t=2, p=1), of strength equal to scrypt N=2^17 by their table, and about
 * twenty times cheaper per login on the same cores.
 */
export const DEFAULT_ARGON2: Argon2Cost = { memoryKiB: 19456, iterations: 2, parallelism: 1 };

/** Bounds of auth.argon2 (the lower ones let tests hash cheaply; production keeps the default). */
export const ARGON2_BOUNDS = { memoryKiB: [64, 4 * 1024 * 1024], iterations: [1, 64], parallelism: [1, 16] } as const;

/** Validate an Argon2id cost from the config file or a command line; missing fields take the default. */
export function argon2Cost(v: unknown, name = 'auth.argon2'): Argon2Cost {
  if (v === undefined) return DEFAULT_ARGON2;
  if (!isObject(v)) throw new WardenError('CONFIG_INVALID', `${name} must be an object`);
  for (const k of Object.keys(v)) {
    if (!['memoryKiB', 'iterations', 'parallelism'].includes(k)) throw new WardenError('CONFIG_INVALID', `config ${name}.${k} is not a known setting`);
  }
  const b = ARGON2_BOUNDS;
  const cost = {
    memoryKiB: num(v.memoryKiB, `${name}.memoryKiB`, DEFAULT_ARGON2.memoryKiB, b.memoryKiB[0], b.memoryKiB[1]),
    iterations: num(v.iterations, `${name}.iterations`, DEFAULT_ARGON2.iterations, b.iterations[0], b.iterations[1]),
    parallelism: num(v.parallelism, `${name}.parallelism`, DEFAULT_ARGON2.parallelism, b.parallelism[0], b.parallelism[1]),
  };
  // Argon2 needs 8 KiB per lane at least.
  if (cost.memoryKiB < 8 * cost.parallelism) throw new WardenError('CONFIG_INVALID', `${name}.memoryKiB must be at least 8 × parallelism`);
  return cost;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Where the config file is, by the convention of DESIGN.md §2. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.WARDEN_CONFIG) return path.resolve(env.WARDEN_CONFIG);
  if (env.WARDEN_HOME) return path.resolve(env.WARDEN_HOME, 'warden.json');
  return '/etc/warden/warden.json';
}

export function homePath(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.WARDEN_HOME ?? '/var/lib/warden');
}

function num(v: unknown, name: string, def: number, min: number, max: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new WardenError('CONFIG_INVALID', `config ${name} must be an integer in [${min}, ${max}]`);
  }
  return v;
}

function bool(v: unknown, name: string, def: boolean): boolean {
  if (v === undefined) return def;
  if (typeof v !== 'boolean') throw new WardenError('CONFIG_INVALID', `config ${name} must be true or false`);
  return v;
}

function str(v: unknown, name: string, def: string): string {
  if (v === undefined) return def;
  if (typeof v !== 'string' || v.length === 0) throw new WardenError('CONFIG_INVALID', `config ${name} must be a non-empty string`);
  return v;
}

function section(raw: Json, name: string, allowed: string[]): Json {
  const v = raw[name];
  if (v === undefined) return {};
  if (!isObject(v)) throw new WardenError('CONFIG_INVALID', `config ${name} must be an object`);
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) throw new WardenError('CONFIG_INVALID', `config ${name}.${k} is not a known setting`);
  }
  return v;
}

/** A loopback host and a port: what a local Duo-protocol test server can be, and nothing else. */
const LOOPBACK_HOST_PORT = /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]):\d{1,5}$/i;

function duoTestHostList(v: unknown): string[] {
  if (v === undefined) return [];
  const ok = (h: unknown) => typeof h === 'string' && LOOPBACK_HOST_PORT.test(h) && Number(h.slice(h.lastIndexOf(':') + 1)) <= 65535;
  if (!Array.isArray(v) || v.length > 16 || !v.every(ok)) {
    throw new WardenError('CONFIG_INVALID', 'auth.duoTestHosts must be a list of loopback "host:port" entries (localhost, 127.x.x.x or [::1])');
  }
  return (v as string[]).map((h) => h.toLowerCase());
}

/** The RDP port clients use when the config names none. */
export const DEFAULT_RDP_PORT = 3389;

/**
 * "host", "host:port" or "[v6]:port": a DNS name or an IP address and a port. It is written verbatim into a
 * line of an .rdp file, so nothing else (no spaces, no line breaks) gets through.
 */
const PUBLIC_ADDRESS = /^(?:([A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)|\[([0-9A-Fa-f:.]{2,45})\])(?::(\d{1,5}))?$/;

function publicAddress(v: unknown, name: string, def: { host: string; port: number }): { host: string; port: number } {
  if (v === undefined) return def;
  const m = typeof v === 'string' ? PUBLIC_ADDRESS.exec(v) : null;
  const port = m?.[3] === undefined ? def.port : Number(m[3]);
  if (!m || port < 1 || port > 65535) throw new WardenError('CONFIG_INVALID', `config ${name} must be "host", "host:port" or "[IPv6]:port"`);
  return { host: m[1] ?? `[${m[2]}]`, port };
}

function mariadbConfig(v: unknown, at: (p: string) => string): MariaDbStoreConfig {
  if (v === undefined) throw new WardenError('CONFIG_INVALID', 'store.engine mariadb needs store.mariadb (hosts, user, database, passwordFile)');
  if (!isObject(v)) throw new WardenError('CONFIG_INVALID', 'config store.mariadb must be an object');
  for (const k of Object.keys(v)) {
    if (!['hosts', 'user', 'database', 'passwordFile', 'socketPath'].includes(k)) throw new WardenError('CONFIG_INVALID', `config store.mariadb.${k} is not a known setting`);
  }
  if (!Array.isArray(v.hosts) || v.hosts.length === 0 || v.hosts.length > 16) throw new WardenError('CONFIG_INVALID', 'store.mariadb.hosts must list 1 to 16 { host, port } entries, this node first');
  const hosts = v.hosts.map((h: unknown, i: number) => {
    if (!isObject(h) || Object.keys(h).some((k) => k !== 'host' && k !== 'port')) throw new WardenError('CONFIG_INVALID', `store.mariadb.hosts[${i}] must be { host, port }`);
    return { host: str(h.host, `store.mariadb.hosts[${i}].host`, ''), port: num(h.port, `store.mariadb.hosts[${i}].port`, 3306, 1, 65535) };
  });
  const database = str(v.database, 'store.mariadb.database', 'warden');
  if (!/^[A-Za-z0-9_]{1,64}$/.test(database)) throw new WardenError('CONFIG_INVALID', 'store.mariadb.database must be letters, digits and _');
  return {
    hosts,
    user: str(v.user, 'store.mariadb.user', 'warden'),
    database,
    passwordFile: at(str(v.passwordFile, 'store.mariadb.passwordFile', 'keys/mariadb.password')),
    socketPath: v.socketPath === undefined ? undefined : at(str(v.socketPath, 'store.mariadb.socketPath', '')),
  };
}

/** Build a validated config from raw JSON; relative paths resolve against home. */
export function buildConfig(raw: unknown, home: string, source?: string): WardenConfig {
  if (!isObject(raw)) throw new WardenError('CONFIG_INVALID', 'config must be a JSON object');
  for (const k of Object.keys(raw)) {
    if (!['web', 'terminalProxy', 'rdpProxy', 'store', 'keys', 'auth', 'audit', 'log', 'recordings', 'node', '$comment'].includes(k)) {
      throw new WardenError('CONFIG_INVALID', `config key ${k} is not a known section`);
    }
  }
  const web = section(raw, 'web', ['listen', 'httpsPort', 'httpPort', 'httpRedirect', 'publicHost', 'tlsCert', 'tlsKey', 'bodyLimit', 'terminalCheckSeconds']);
  const terminalProxy = section(raw, 'terminalProxy', ['listen', 'port', 'hostKey', 'loginGraceSeconds', 'maxUnauthenticated']);
  const rdpProxy = section(raw, 'rdpProxy', ['listen', 'port', 'publicAddress', 'tlsCert', 'tlsKey', 'loginGraceSeconds', 'maxUnauthenticated']);
  const store = section(raw, 'store', ['engine', 'sqlitePath', 'mariadb']);
  const keys = section(raw, 'keys', ['module', 'tokenLabel', 'pinFile', 'softhsmConf']);
  const auth = section(raw, 'auth', ['argon2', 'scrypt', 'duoCaFile', 'duoTestHosts']);
  const log = section(raw, 'log', ['level']);
  const audit = section(raw, 'audit', ['anchorFile', 'anchorEvery']);
  const recordings = section(raw, 'recordings', ['dir']);
  const node = section(raw, 'node', ['id', 'name']);
  const at = (p: string) => path.resolve(home, p);

  const engine = str(store.engine, 'store.engine', 'sqlite');
  if (engine !== 'sqlite' && engine !== 'mariadb') throw new WardenError('CONFIG_INVALID', `store.engine must be sqlite or mariadb, not ${engine}`);
  if (engine === 'sqlite' && store.mariadb !== undefined) throw new WardenError('CONFIG_INVALID', 'store.mariadb is only for store.engine mariadb');
  const sqlitePath = at(str(store.sqlitePath, 'store.sqlitePath', 'warden.db'));
  const level = str(log.level, 'log.level', 'info');
  if (!['error', 'warn', 'info', 'debug'].includes(level)) throw new WardenError('CONFIG_INVALID', 'log.level must be error, warn, info or debug');

  let scrypt = DEFAULT_SCRYPT;
  if (auth.scrypt !== undefined) {
    if (!isObject(auth.scrypt)) throw new WardenError('CONFIG_INVALID', 'auth.scrypt must be an object');
    const s = auth.scrypt;
    scrypt = {
      cost: num(s.cost, 'auth.scrypt.cost', DEFAULT_SCRYPT.cost, 1024, 1 << 20),
      blockSize: num(s.blockSize, 'auth.scrypt.blockSize', DEFAULT_SCRYPT.blockSize, 1, 32),
      parallelization: num(s.parallelization, 'auth.scrypt.parallelization', DEFAULT_SCRYPT.parallelization, 1, 16),
    };
    if ((scrypt.cost & (scrypt.cost - 1)) !== 0) throw new WardenError('CONFIG_INVALID', 'auth.scrypt.cost must be a power of two');
  }
  const argon2 = argon2Cost(auth.argon2);
  const duoCaFile = auth.duoCaFile === undefined ? undefined : at(str(auth.duoCaFile, 'auth.duoCaFile', ''));
  const duoTestHosts = duoTestHostList(auth.duoTestHosts);
  if (duoTestHosts.length > 0 && duoCaFile === undefined) {
    throw new WardenError('CONFIG_INVALID', 'auth.duoTestHosts needs auth.duoCaFile (the test server\'s CA)');
  }
  const softhsmConf = keys.softhsmConf === undefined ? undefined : at(str(keys.softhsmConf, 'keys.softhsmConf', ''));
  const publicHost = str(web.publicHost, 'web.publicHost', 'localhost');
  const nodeId = str(node.id, 'node.id', LOCAL_NODE_ID);
  if (!NODE_ID.test(nodeId)) throw new WardenError('CONFIG_INVALID', 'config node.id must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit');
  const nodeName = str(node.name, 'node.name', hostname() || nodeId);
  if (nodeName.length > 255) throw new WardenError('CONFIG_INVALID', 'config node.name must be at most 255 characters');
  const rdpPort = num(rdpProxy.port, 'rdpProxy.port', DEFAULT_RDP_PORT, 0, 65535);
  return {
    home,
    source,
    web: {
      listen: str(web.listen, 'web.listen', '0.0.0.0'),
      httpsPort: num(web.httpsPort, 'web.httpsPort', 443, 0, 65535),
      httpPort: num(web.httpPort, 'web.httpPort', 80, 0, 65535),
      httpRedirect: bool(web.httpRedirect, 'web.httpRedirect', true),
      publicHost,
      tlsCert: at(str(web.tlsCert, 'web.tlsCert', 'tls/web.crt')),
      tlsKey: at(str(web.tlsKey, 'web.tlsKey', 'tls/web.key')),
      bodyLimit: num(web.bodyLimit, 'web.bodyLimit', 64 * 1024, 1024, 64 * 1024 * 1024),
      terminalCheckSeconds: num(web.terminalCheckSeconds, 'web.terminalCheckSeconds', 30, 1, 300),
    },
    terminalProxy: {
      listen: str(terminalProxy.listen, 'terminalProxy.listen', '0.0.0.0'),
      port: num(terminalProxy.port, 'terminalProxy.port', 22, 0, 65535),
      hostKey: at(str(terminalProxy.hostKey, 'terminalProxy.hostKey', 'ssh/terminal-proxy_ed25519_key')),
      loginGraceSeconds: num(terminalProxy.loginGraceSeconds, 'terminalProxy.loginGraceSeconds', 60, 1, 600),
      maxUnauthenticated: num(terminalProxy.maxUnauthenticated, 'terminalProxy.maxUnauthenticated', 100, 1, 10_000),
    },
    rdpProxy: {
      listen: str(rdpProxy.listen, 'rdpProxy.listen', '0.0.0.0'),
      port: rdpPort,
      tlsCert: at(str(rdpProxy.tlsCert, 'rdpProxy.tlsCert', 'tls/rdp-proxy.crt')),
      tlsKey: at(str(rdpProxy.tlsKey, 'rdpProxy.tlsKey', 'tls/rdp-proxy.key')),
      loginGraceSeconds: num(rdpProxy.loginGraceSeconds, 'rdpProxy.loginGraceSeconds', 30, 1, 600),
      maxUnauthenticated: num(rdpProxy.maxUnauthenticated, 'rdpProxy.maxUnauthenticated', 100, 1, 10_000),
      publicAddress: publicAddress(rdpProxy.publicAddress, 'rdpProxy.publicAddress', { host: publicHost.includes(':') ? `[${publicHost}]` : publicHost, port: rdpPort }),
    },
    store: engine === 'mariadb' ? { engine, sqlitePath, mariadb: mariadbConfig(store.mariadb, at) } : { engine: 'sqlite', sqlitePath },
    keys: {
      module: str(keys.module, 'keys.module', '/usr/lib/softhsm/libsofthsm2.so'),
      tokenLabel: str(keys.tokenLabel, 'keys.tokenLabel', 'warden'),
      pinFile: at(str(keys.pinFile, 'keys.pinFile', 'keys/token.pin')),
      softhsmConf,
    },
    auth: { argon2, scrypt, duoCaFile, duoTestHosts },
    audit: {
      anchorFile: audit.anchorFile === undefined ? defaultAnchorFile(home) : at(str(audit.anchorFile, 'audit.anchorFile', '')),
      anchorEvery: num(audit.anchorEvery, 'audit.anchorEvery', 100, 1, 1_000_000),
    },
    log: { level: level as WardenConfig['log']['level'] },
    recordings: { dir: at(str(recordings.dir, 'recordings.dir', 'recordings')) },
    node: { id: nodeId, name: nodeName },
  };
}

/** Read and validate the config file; a missing file is an error naming the path and what creates it. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): WardenConfig {
  const file = configPath(env);
  if (!existsSync(file)) {
    throw new WardenError('CONFIG_INVALID', `no configuration at ${file}: run "orbit init" first`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new WardenError('CONFIG_INVALID', `${file} is not valid JSON: ${(e as Error).message}`);
  }
  return buildConfig(raw, homePath(env), file);
}
