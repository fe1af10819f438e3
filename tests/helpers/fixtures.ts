// Test fixtures: temporary state directories, an initialized appliance on a real SoftHSM token, and
// services over a real store with a controllable clock: SQLite, or MariaDB with WARDEN_TEST_STORE=mariadb.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initializeAppliance, type InitResult } from '../../appliance/provision/index.js';
import { Store } from '../../appliance/store/index.js';
import { createHmac, randomBytes, scryptSync } from 'node:crypto';
import { AuditTrail, type ChainKey } from '../../appliance/audit/index.js';
import { SettingsService } from '../../appliance/settings/index.js';
import { AuthService, CertificateLogin } from '../../appliance/auth/index.js';
import { TrustStore } from '../../appliance/pki/index.js';
import { UserAdminService } from '../../appliance/access/index.js';
import type { Argon2Cost } from '../../appliance/config/index.js';
import { testMariaDb, testStoreEngine } from './mariadb.js';

/** Cheap Argon2id for tests: the rules under test do not depend on the cost; production keeps m=19 MiB, t=2. */
export const TEST_ARGON2: Argon2Cost = { memoryKiB: 64, iterations: 1, parallelism: 1 };
/** The same cost as `orbit init` / `orbit backup restore` flags. */
export const TEST_ARGON2_FLAGS = ['--argon2-memory', String(TEST_ARGON2.memoryKiB), '--argon2-iterations', String(TEST_ARGON2.iterations)];

/**
 * A password hash of the form Warden stored before Argon2id (scrypt$N$r$p$salt$key, base64), made here with
 * node:crypto so tests can put a real one in the database: Warden itself no longer writes this form.
 */
export function legacyScryptHash(password: string, cost = { N: 1024, r: 8, p: 1 }): string {
  const salt = randomBytes(16);
  const key = scryptSync(Buffer.from(password, 'utf8'), salt, 32, { N: cost.N, r: cost.r, p: cost.p, maxmem: 256 * cost.N * cost.r + (1 << 20) });
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export function tempDir(prefix = 'warden-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export class ManualClock {
  constructor(public now = Date.UTC(2026, 10, 22, 9, 0, 0)) {}
  readonly read = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

export interface Services {
  store: Store;
  audit: AuditTrail;
  settings: SettingsService;
  auth: AuthService;
  users: UserAdminService;
  trust: TrustStore;
  certificates: CertificateLogin;
  clock: ManualClock;
  close: () => Promise<void>;
}

/**
 * A chain key held in this process, for unit tests of services that write audit events but do not test the
 * chain's custody (the chain's own tests, and every appliance built by `initializedHome`, use the token's key).
 */
export function softwareChainKey(): ChainKey {
  const key = randomBytes(32);
  return { mac: (data) => createHmac('sha256', key).update(data).digest() };
}

/**
 * A fresh, migrated store: a SQLite file in `dir`, or with WARDEN_TEST_STORE=mariadb a new database on this
 * test process's MariaDB server (tests/helpers/mariadb.ts).
 */
export async function openTestStore(dir: string): Promise<Store> {
  if (testStoreEngine() === 'mariadb') return Store.open(await (await testMariaDb()).freshDatabase());
  return Store.open({ sqlitePath: path.join(dir, 'warden.db') });
}

/** The auth/access services over a fresh store (see openTestStore; no token: nothing here decrypts). */
export async function services(): Promise<Services> {
  const tmp = tempDir();
  const clock = new ManualClock();
  const store = await openTestStore(tmp.dir);
  const audit = new AuditTrail(store, { key: softwareChainKey(), clock: clock.read });
  const settings = new SettingsService(store, audit, clock.read, 0);
  const auth = new AuthService({ store, audit, settings, argon2: TEST_ARGON2, clock: clock.read });
  const users = new UserAdminService({ store, audit, settings, argon2: TEST_ARGON2, clock: clock.read });
  const trust = new TrustStore(store, audit, clock.read);
  const certificates = new CertificateLogin({ store, audit, settings, trust, clock: clock.read });
  return {
    trust,
    certificates,
    store,
    audit,
    settings,
    auth,
    users,
    clock,
    close: async () => {
      await store.close();
      tmp.cleanup();
    },
  };
}

export interface InitializedHome extends InitResult {
  home: string;
  configFile: string;
  cleanup: () => void;
}

/** A fully initialized appliance state directory (token, master key, TLS cert, first admin). */
export async function initializedHome(opts: { adminUsername?: string; web?: { httpsPort?: number; httpPort?: number } } = {}): Promise<InitializedHome> {
  const tmp = tempDir('warden-home-');
  const configFile = path.join(tmp.dir, 'warden.json');
  const store = testStoreEngine() === 'mariadb' ? (await (await testMariaDb()).freshDatabase()).mariadb : undefined;
  const result = await initializeAppliance({
    ...(store ? { store: { engine: 'mariadb' as const, mariadb: { hosts: [...store.hosts], user: store.user, database: store.database, password: store.password! } } } : {}),
    home: tmp.dir,
    configFile,
    adminUsername: opts.adminUsername ?? 'admin',
    adminEmail: 'admin@example.test',
    web: { listen: '127.0.0.1', httpsPort: opts.web?.httpsPort ?? 0, httpPort: opts.web?.httpPort ?? 0, publicHost: '127.0.0.1' },
    argon2: TEST_ARGON2,
    // Outside the state directory as on the appliance, inside the temporary directory so cleanup takes it.
    anchorFile: path.join(tmp.dir, '..', `${path.basename(tmp.dir)}-anchor`, 'audit-anchor.log'),
  });
  const anchorDir = path.join(tmp.dir, '..', `${path.basename(tmp.dir)}-anchor`);
  return {
    ...result,
    home: tmp.dir,
    configFile,
    cleanup: () => {
      tmp.cleanup();
      rmSync(anchorDir, { recursive: true, force: true });
    },
  };
}

/** A password that satisfies the default policy and differs on every call. */
let counter = 0;
export function strongPassword(): string {
  counter++;
  return `Str0ng-Passw0rd-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}
