// The composition every daemon and orbit share: open the store, open the token (failing closed), check the
// token holds this appliance's master key, build the services over them, and follow the change feed so
// this process hears what the others change.
import { AuditAnchor, AuditTrail, tokenChainKey } from './audit/index.js';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { AuthService, CertificateLogin, DuoService, ProxyLoginService, SecondFactorService, SshKeyService, TotpService } from './auth/index.js';
import { TrustStore } from './pki/index.js';
import {
  UserAdminService,
  DeviceService,
  CredentialService,
  HostKeyService,
  ProtectedItemService,
  AccessGroupService,
  AccessDecisions,
  AccessRequestService,
  PasswordViewService,
  ConnectivityService,
} from './access/index.js';
import { Dashboard, RdpTicketService, RecordingService, SessionService, type LivenessOptions } from './sessions/index.js';
import { DiscoveryService, RotationService, STATUS_CHECK_INTERVAL_MS, ROTATION_JOB_INTERVAL_MS } from './rotation/index.js';
import { Vault } from './vault/index.js';
import { ClusterSecret, RemoteRecordings } from './nodes/index.js';
import { SettingsService } from './settings/index.js';
import { createBackup, rotateMasterKey } from './backup/index.js';
import { KeyService, verifyKeyCheck } from './keys/index.js';
import { Store, type FeedFollower } from './store/index.js';
import { JobScheduler, type Job } from './jobs/index.js';
import { logger } from './log/index.js';
import { KeysError } from './errors/index.js';
import type { WardenConfig } from './config/index.js';

/** The token, or KEYS_UNAVAILABLE when the appliance was opened without it: no decision without keys. */
function tokenOrFail(keys: KeyService | undefined): KeyService {
  if (!keys) throw new KeysError('KEYS_UNAVAILABLE', 'the appliance was opened without its token');
  return keys;
}

export interface ApplianceOptions {
  clock?: () => number;
  /** Open without the token (read-only tools such as `orbit audit verify`). Nothing secret is reachable. */
  withoutKeys?: boolean;
  /** How often this process looks at the change feed (ms). */
  feedPollMs?: number;
  /** How this process reports the proxied sessions it holds (bytes so far, its lease); defaults suit production. */
  sessionLiveness?: LivenessOptions;
  /** A long-running daemon: checkpoint the database's WAL on a worker thread, never in a request's commit. */
  daemon?: boolean;
}

const log = logger('appliance');

/** How long the change feed keeps a change: a follower stopped longer reloads what it caches (onGap). */
export const CHANGE_FEED_RETENTION_MS = 86_400_000;

export class Appliance {
  private constructor(
    readonly config: WardenConfig,
    readonly store: Store,
    private readonly keyService: KeyService | undefined,
    readonly audit: AuditTrail,
    readonly settings: SettingsService,
    readonly auth: AuthService,
    readonly users: UserAdminService,
    readonly trust: TrustStore,
    readonly certificates: CertificateLogin,
    readonly totp: TotpService,
    readonly duo: DuoService,
    readonly secondFactor: SecondFactorService,
    readonly vault: Vault,
    readonly devices: DeviceService,
    readonly credentials: CredentialService,
    readonly hostKeys: HostKeyService,
    readonly protectedItems: ProtectedItemService,
    readonly accessGroups: AccessGroupService,
    readonly accessDecisions: AccessDecisions,
    readonly accessRequests: AccessRequestService,
    readonly passwordView: PasswordViewService,
    readonly connectivity: ConnectivityService,
    readonly sessions: SessionService,
    /** This process's reader of the change feed, from the moment the appliance opened. */
    readonly changes: FeedFollower,
    readonly recordings: RecordingService,
    /** Person authentication on the proxies that authenticate people themselves (SSH). */
    readonly proxyLogins: ProxyLoginService,
    /** SSH public keys users register for the terminal proxy. */
    readonly sshKeys: SshKeyService,
    /** One-time RDP tickets: issued by the web (.rdp files), redeemed once by the RDP proxy instead of a password. */
    readonly rdpTickets: RdpTicketService,
    /** Recordings held by other cluster nodes: fetched from them, and served to them (the web's internal route). */
    readonly remoteRecordings: RemoteRecordings,
    /** The console's dashboard: live sessions, approvals waiting, recent failures, what expires, what is unreachable. */
    readonly dashboard: Dashboard,
    /** Credential rotation on the targets (issue 14). */
    readonly rotation: RotationService,
    /** Discovery of devices' accounts, privileges and keys, and its review list (issue 14). */
    readonly discovery: DiscoveryService,
  ) {}

  /**
   * The appliance's periodic work. Every daemon may run a scheduler with these; each job runs in one process
   * at a time (its lease), so adding a daemon adds no second sweep.
   */
  jobs(): Job[] {
    return [
      { name: 'web-session-sweep', interval: 60_000, run: () => this.auth.sweepSessions() },
      // Grants end by the clock, not by a change: looked for every second, announced once.
      { name: 'grant-expiry', interval: 1000, run: () => this.accessRequests.announceExpiredGrants() },
      {
        name: 'connectivity-check',
        interval: async () => {
          const minutes = (await this.settings.current()).connectivityIntervalMinutes;
          return minutes > 0 ? minutes * 60_000 : null;
        },
        run: () => this.connectivity.checkAll(),
      },
      // Sessions whose process died (its lease lapsed) are marked interrupted: a few seconds after the lease.
      { name: 'proxy-session-sweep', interval: 5000, run: () => this.sessions.sweepInterrupted() },
      { name: 'change-feed-prune', interval: 600_000, run: () => this.store.feed.prune(Date.now() - CHANGE_FEED_RETENTION_MS) },
      // Status control: credentials with it on are logged in with their vaulted password, hourly.
      { name: 'credential-status', interval: STATUS_CHECK_INTERVAL_MS, run: () => this.rotation.checkAll() },
      // Rotations asked for by use, the schedule and status control (the rotation queue), and the schedule itself.
      { name: 'credential-rotation', interval: ROTATION_JOB_INTERVAL_MS, run: () => this.rotation.runQueue() },
      // Discovery of each device with a discovery credential, every rotation.discoveryIntervalHours (looked for every 15 min).
      { name: 'discovery', interval: 15 * 60_000, run: () => this.discovery.runDue() },
    ];
  }

  /** Start running the appliance's jobs from this process (when their leases fall to it). */
  startJobs(options: { holder?: string; tickMs?: number; leaseMs?: number } = {}): JobScheduler {
    const scheduler = new JobScheduler({ store: this.store, ...options });
    for (const job of this.jobs()) scheduler.add(job);
    return scheduler.start();
  }

  /** Write an encrypted backup of the database to `file` (restoring it needs k custodian shares). */
  createBackup(file: string, actor: string): Promise<{ bytes: number; applianceId: string; recordings: number }> {
    return createBackup({ store: this.store, keys: this.keys, audit: this.audit, home: this.config.home, recordingsDir: this.recordings.dir }, file, actor);
  }

  /** A new master key cut into new custodian shares; every sealed value re-wrapped, the old key destroyed. */
  rotateMasterKey(options: Parameters<typeof rotateMasterKey>[1]): Promise<{ from: string; to: string; rewrapped: number }> {
    return rotateMasterKey({ store: this.store, keys: this.keys, audit: this.audit }, options);
  }

  /** The token; throws KEYS_UNAVAILABLE when opened without keys, so no decision is made without it. */
  get keys(): KeyService {
    return tokenOrFail(this.keyService);
  }

  static async open(config: WardenConfig, options: ApplianceOptions = {}): Promise<Appliance> {
    const clock = options.clock ?? Date.now;
    const store = await Store.open({ ...config.store, ...(options.daemon ? { backgroundCheckpoint: true } : {}) });
    let keys: KeyService | undefined;
    try {
      if (!options.withoutKeys) {
        keys = KeyService.open({
          module: config.keys.module,
          tokenLabel: config.keys.tokenLabel,
          pinFile: config.keys.pinFile,
          softhsmConf: config.keys.softhsmConf,
        });
        await verifyKeyCheck(store, keys);
        // No audit key, no trail that can be trusted: fail closed like a missing master key.
        if (!keys.hasAuditKey()) throw new KeysError('KEYS_AUDIT_KEY_MISSING', 'the token holds no audit key: this database needs the token it was initialized with');
      }
    } catch (e) {
      keys?.close();
      await store.close();
      throw e;
    }
    const audit = new AuditTrail(store, { key: tokenChainKey(() => tokenOrFail(keys)), clock, anchor: new AuditAnchor(config.audit.anchorFile, config.audit.anchorEvery), node: config.node.id });
    const settings = new SettingsService(store, audit, clock);
    const auth = new AuthService({ store, audit, settings, argon2: config.auth.argon2, clock });
    const users = new UserAdminService({ store, audit, settings, argon2: config.auth.argon2, clock });
    const trust = new TrustStore(store, audit, clock);
    const certificates = new CertificateLogin({ store, audit, settings, trust, clock });
    const vault = new Vault(() => tokenOrFail(keys));
    const totp = new TotpService({ store, audit, vault, clock });
    const httpsAgent = config.auth.duoCaFile ? new https.Agent({ ca: readFileSync(config.auth.duoCaFile) }) : undefined;
    // Test hosts only ride along with a test CA (the config refuses one without the other).
    const duo = new DuoService({ store, audit, vault, clock, ...(httpsAgent ? { httpsAgent, testApiHosts: config.auth.duoTestHosts } : {}) });
    const secondFactor = new SecondFactorService({ store, audit, auth, certificates, totp, duo });
    const devices = new DeviceService({ store, audit, clock });
    const credentials = new CredentialService({ store, audit, vault, devices, clock });
    const hostKeys = new HostKeyService({ store, audit, devices, clock });
    const accessGroups = new AccessGroupService({ store, audit, clock });
    // Read per decision through the settings cache, so a change of zone applies at once.
    const accessDecisions = new AccessDecisions({ store, clock, timeZone: () => settings.timeZone() });
    const accessRequests = new AccessRequestService({ store, audit, decisions: accessDecisions, clock });
    const passwordView = new PasswordViewService({ store, audit, decisions: accessDecisions, credentials, settings, clock });
    const protectedItems = new ProtectedItemService({ store, audit, vault, decisions: accessDecisions, clock });
    const connectivity = new ConnectivityService({ store, audit, devices, clock });
    const sessions = new SessionService({ store, audit, decisions: accessDecisions, credentials, hostKeys, certificates, clock, ...(options.sessionLiveness ? { liveness: options.sessionLiveness } : {}) });
    const changes = await store.feed.follow({ ...(options.feedPollMs ? { pollMs: options.feedPollMs } : {}), onError: (error, change) => log.warn('change feed: a change could not be handled', { error, seq: change?.seq, topic: change?.topic }) });
    // Another process changed settings: read them afresh at the next use.
    changes.on('settings.changed', () => settings.invalidate());
    changes.onGap(() => settings.invalidate());
    sessions.listen(changes);
    const remoteRecordings = new RemoteRecordings({ store, audit, secret: new ClusterSecret({ store, audit, vault }), nodeId: config.node.id, dir: config.recordings.dir, clock });
    const recordings = new RecordingService({ store, audit, keys: () => tokenOrFail(keys), dir: config.recordings.dir, clock, nodeId: config.node.id, remote: remoteRecordings });
    const proxyLogins = new ProxyLoginService({ store, audit, settings, auth, certificates, totp, clock });
    const sshKeys = new SshKeyService({ store, audit, clock });
    const rdpTickets = new RdpTicketService({ store, audit, decisions: accessDecisions, certificates, auth, settings, clock });
    const dashboard = new Dashboard({ store, sessions, clock });
    const rotation = new RotationService({ store, audit, vault, hostKeys, settings, clock });
    const discovery = new DiscoveryService({ store, audit, vault, hostKeys, credentials, rotation, settings, clock });
    return new Appliance(config, store, keys, audit, settings, auth, users, trust, certificates, totp, duo, secondFactor, vault, devices, credentials, hostKeys, protectedItems, accessGroups, accessDecisions, accessRequests, passwordView, connectivity, sessions, changes, recordings, proxyLogins, sshKeys, rdpTickets, remoteRecordings, dashboard, rotation, discovery);
  }

  async close(): Promise<void> {
    await this.sessions.stop();
    await this.changes.stop();
    try {
      await this.audit.anchorHead();
    } catch {
      // Shutting down without an anchor is weaker, not unsafe: the next anchor covers these rows.
    }
    this.keyService?.close();
    await this.store.close();
  }
}
