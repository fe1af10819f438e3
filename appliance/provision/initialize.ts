import { existsSync, readdirSync, rmSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import { buildConfig, makePrivateDir, writePrivateFile, type Argon2Cost, type WardenConfig } from '../config/index.js';
import { KeyService, SOFTHSM_MODULE, generateMasterKeyMaterial, initSoftHsmToken, writeAuditKeyCopy, writeKeyCheck, writeSoftHsmConfig, type MasterKeyHandoff } from '../keys/index.js';
import { createSelfSignedTlsCertificate } from '../pki/index.js';
import { Store } from '../store/index.js';
import { AuditAnchor, AuditTrail, tokenChainKey } from '../audit/index.js';
import { SettingsService } from '../settings/index.js';
import { UserAdminService } from '../access/index.js';
import { WardenError } from '../errors/index.js';

export interface InitOptions {
  home: string;
  configFile: string;
  adminUsername: string;
  adminFullName?: string;
  adminEmail?: string;
  /** `certificate`: a PEM certificate and its key to serve instead of a new self-signed one (checked by the caller). */
  web?: { listen?: string; httpsPort?: number; httpPort?: number; publicHost?: string; certificate?: { certPem: string; keyPem: string } };
  /** The SSH proxy's address and port (default 0.0.0.0:22). */
  terminalProxy?: { listen?: string; port?: number };
  /** The RDP proxy's address and port (default 0.0.0.0:3389). */
  rdpProxy?: { listen?: string; port?: number };
  /** Argon2id cost of password hashes, written to the config (tests lower it; production keeps the default). */
  argon2?: Argon2Cost;
  /** Where the 32 master-key bytes go before they are zeroed (the Shamir split of the backup issue). */
  onMasterKey?: MasterKeyHandoff;
  /** Where the audit chain head is anchored (outside the state directory); default: see defaultAnchorFile. */
  anchorFile?: string;
  /** Progress lines for the operator. */
  progress?: (line: string) => void;
  /**
   * The store on a MariaDB server instead of SQLite: an empty database (created with createMariaDbDatabase)
   * and an account that owns it. The password is written to keys/mariadb.password (private), not to warden.json.
   */
  store?: { engine: 'mariadb'; mariadb: { hosts: { host: string; port: number }[]; user: string; database: string; password: string; socketPath?: string } };
}

export interface InitResult {
  config: WardenConfig;
  adminUsername: string;
  oneTimePassword: string;
  applianceId: string;
}

export async function isInitialized(configFile: string): Promise<boolean> {
  return existsSync(configFile);
}

function writeSecretFile(file: string, content: string): void {
  writePrivateFile(file, content, { exclusive: true });
}

/**
 * Initialize a new appliance. Refuses a state directory that already holds a token or database.
 * On any failure it removes what it created, so a retry starts clean.
 */
export async function initializeAppliance(opts: InitOptions): Promise<InitResult> {
  const say = opts.progress ?? (() => {});
  const home = path.resolve(opts.home);
  if (existsSync(opts.configFile)) throw new WardenError('CONFLICT', `${opts.configFile} exists: this appliance is already initialized`);
  const created = ['keys', 'tls', 'warden.db', 'warden.db-wal', 'warden.db-shm'].map((p) => path.join(home, p));
  for (const p of created) {
    if (existsSync(p) && (!p.endsWith('keys') || readdirSync(p).length > 0)) {
      throw new WardenError('CONFLICT', `${p} exists: refusing to initialize over existing state`);
    }
  }
  makePrivateDir(home);

  const raw = {
    web: {
      listen: opts.web?.listen ?? '0.0.0.0',
      httpsPort: opts.web?.httpsPort ?? 443,
      httpPort: opts.web?.httpPort ?? 80,
      publicHost: opts.web?.publicHost ?? hostname(),
      tlsCert: 'tls/web.crt',
      tlsKey: 'tls/web.key',
    },
    terminalProxy: { listen: opts.terminalProxy?.listen ?? '0.0.0.0', port: opts.terminalProxy?.port ?? 22 },
    rdpProxy: { listen: opts.rdpProxy?.listen ?? '0.0.0.0', port: opts.rdpProxy?.port ?? 3389 },
    store:
      opts.store?.engine === 'mariadb'
        ? {
            engine: 'mariadb',
            sqlitePath: 'warden.db',
            mariadb: {
              hosts: opts.store.mariadb.hosts,
              user: opts.store.mariadb.user,
              database: opts.store.mariadb.database,
              passwordFile: 'keys/mariadb.password',
              ...(opts.store.mariadb.socketPath ? { socketPath: opts.store.mariadb.socketPath } : {}),
            },
          }
        : { engine: 'sqlite', sqlitePath: 'warden.db' },
    keys: { module: SOFTHSM_MODULE, tokenLabel: 'warden', pinFile: 'keys/token.pin', softhsmConf: 'keys/softhsm2.conf' },
    ...(opts.argon2 ? { auth: { argon2: opts.argon2 } } : {}),
    ...(opts.anchorFile ? { audit: { anchorFile: path.resolve(opts.anchorFile) } } : {}),
    log: { level: 'info' },
  };
  const config = buildConfig(raw, home, opts.configFile);
  let material: Buffer | undefined;
  try {
    say('creating the SoftHSM2 token');
    const userPin = randomBytes(18).toString('base64url');
    const soPin = randomBytes(18).toString('base64url');
    writeSoftHsmConfig(config.keys.softhsmConf!, path.join(home, 'keys', 'tokens'));
    writeSecretFile(config.keys.pinFile, `${userPin}\n`);
    writeSecretFile(path.join(home, 'keys', 'token.so-pin'), `${soPin}\n`);
    initSoftHsmToken({ module: config.keys.module, softhsmConf: config.keys.softhsmConf!, label: config.keys.tokenLabel, soPin, userPin });

    const host = raw.web.publicHost;
    say(opts.web?.certificate ? 'installing the web TLS certificate' : 'creating the web TLS certificate');
    const pair =
      opts.web?.certificate ??
      (await createSelfSignedTlsCertificate({
        commonName: host,
        dnsNames: [...new Set([host, 'localhost'])],
        ipAddresses: ['127.0.0.1', '::1'],
        days: 825,
      }));
    writeSecretFile(config.web.tlsCert, pair.certPem);
    writeSecretFile(config.web.tlsKey, pair.keyPem);

    say('creating the master key (AES-256, non-extractable) and the database');
    const keys = KeyService.open({ module: config.keys.module, tokenLabel: config.keys.tokenLabel, pinFile: config.keys.pinFile, softhsmConf: config.keys.softhsmConf });
    if (config.store.engine === 'mariadb') writeSecretFile(config.store.mariadb.passwordFile, `${opts.store!.mariadb.password}\n`);
    const store = await Store.open(config.store);
    let result: InitResult;
    try {
      // A server's database is not removed by a failed init as a file is: refuse one that holds an appliance.
      if (config.store.engine === 'mariadb' && ((await store.repos.users.count()) > 0 || (await store.repos.meta.get('appliance.id')) !== undefined)) {
        throw new WardenError('CONFLICT', `database ${config.store.mariadb.database} already holds an appliance: refusing to initialize over it`);
      }
      const applianceId = randomUUID();
      material = generateMasterKeyMaterial();
      if (opts.onMasterKey) await opts.onMasterKey(material, applianceId);
      keys.importMasterKey(material);
      material.fill(0);
      await writeKeyCheck(store, keys);
      keys.createAuditKey();
      await writeAuditKeyCopy(store.repos, keys);
      await store.repos.meta.set('appliance.id', applianceId);
      await store.repos.meta.set('appliance.initialized_at', new Date().toISOString());

      say('creating the first administrator');
      const audit = new AuditTrail(store, { key: tokenChainKey(() => keys), anchor: new AuditAnchor(config.audit.anchorFile, config.audit.anchorEvery) });
      const settings = new SettingsService(store, audit);
      const users = new UserAdminService({ store, audit, settings, argon2: config.auth.argon2 });
      const { user, oneTimePassword } = await users.create(
        { username: 'orbit', ip: null },
        { username: opts.adminUsername, fullName: opts.adminFullName ?? 'Administrator', email: opts.adminEmail ?? '', profile: 'administrator' },
      );
      await audit.record({ type: 'appliance.init', outcome: 'success', actor: 'orbit', subject: user.username, detail: { applianceId } });
      await audit.anchorHead({ fresh: true });
      result = { config, adminUsername: user.username, oneTimePassword: oneTimePassword!, applianceId };
    } finally {
      keys.close();
      await store.close();
    }

    // The config file is written last: its presence means "initialized".
    writePrivateFile(opts.configFile, JSON.stringify(raw, null, 2) + '\n', { exclusive: true });
    return result;
  } catch (e) {
    material?.fill(0);
    for (const p of [...created, opts.configFile]) rmSync(p, { recursive: true, force: true });
    throw e;
  }
}
