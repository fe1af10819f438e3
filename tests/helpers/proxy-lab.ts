// The set-up the terminal-proxy suites share: an initialized appliance opened in this process, a real sshd
// target with this suite's own local account, Warden users, devices reaching that target with the account's
// password as their credential, access groups, and the proxy daemon as a process — with one `stop()` that takes
// it all down. Each suite names its own target account: suites may run at once, each setting its password.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import type { AccessGroupView } from '../../appliance/access/index.js';
import type { MfaMethod, UserRow } from '../../appliance/store/index.js';
import { initializedHome, strongPassword, tempDir, type InitializedHome } from './fixtures.js';
import { startSshd, type Sshd } from './sshd.js';
import { ensureTargetAccount, startTerminalProxy, type RunningProxy } from './terminal-proxy.js';

const ADMIN = { username: 'admin', ip: '127.0.0.1' };

export interface LabUserSpec {
  /**
   * 'changed' (the default): made with a first password the user then changes, as at a first login.
   * 'kept': the first password kept, must_change_password set to `mustChange` in the store.
   */
  password?: 'changed' | 'kept';
  /** With 'kept': whether the user must still change the password (off by default). */
  mustChange?: boolean;
  mfa?: MfaMethod | null;
}

export interface LabUser {
  id: number;
  /** The row after the set-up (MFA method, must_change_password). */
  row: UserRow;
  password: string;
}

export interface LabHost {
  deviceId: number;
  credentialId: number;
}

export interface LabGroupSpec {
  name: string;
  users: string[];
  hosts: string[];
  allowPortForwarding?: boolean;
  allowAgentForwarding?: boolean;
  /** Set after the group is saved (`setCommandRules`). */
  commandRules?: { pattern: string; action: 'block' | 'alert' | 'allow' }[];
}

export interface ProxyLabOptions {
  /** This suite's own local account on the target. */
  targetUser: string;
  /** The account's password (the devices' credential); a fresh one by default. */
  targetPassword?: string;
  /** Also let the account in by a key made here (`targetKeyFile`, for a credential that is a private key). */
  targetKey?: boolean;
  /** More sshd_config lines for the target. */
  sshdConfig?: string[];
  /** Changes to warden.json before anything reads it. */
  config?: (config: Record<string, any>) => void;
  /** A settings patch, applied by the admin before users are made. */
  settings?: Record<string, unknown>;
  /** Warden users, made in this order. */
  users?: Record<string, LabUserSpec>;
  /** Devices (by hostname) reaching the target's sshd, each with one credential: the account and its password. */
  hosts?: string[];
  groups?: LabGroupSpec[];
  /** Start the proxy at the end (the default); false to set more up first and call `startProxy()`. */
  startProxy?: boolean;
}

export interface ProxyLab {
  home: InitializedHome;
  a: Appliance;
  sshd: Sshd;
  /** A directory of the lab's own (the sshd's files are in it), removed by `stop()`. */
  work: string;
  targetUser: string;
  targetPassword: string;
  /** The private key the account also takes, with `targetKey`. */
  targetKeyFile: string;
  users: Record<string, LabUser>;
  hosts: Record<string, LabHost>;
  groups: Record<string, AccessGroupView>;
  /** The proxy started last (throws before one was). */
  readonly proxy: RunningProxy;
  /** A proxy on this home; every one started here is stopped by `stop()`. */
  startProxy: (extraEnv?: NodeJS.ProcessEnv) => Promise<RunningProxy>;
  /** Another sshd (e.g. with other config), stopped by `stop()`. */
  startSshd: (name: string, extraConfig?: string[]) => Promise<Sshd>;
  addUser: (name: string, spec?: LabUserSpec) => Promise<LabUser>;
  /** A device and its credential as `hosts` makes them; `port`: another sshd of this lab instead of `sshd`. */
  addHost: (hostname: string, port?: number) => Promise<LabHost>;
  addGroup: (spec: LabGroupSpec) => Promise<AccessGroupView>;
  /** Run at `stop()`, before the appliance closes, latest first. */
  onStop: (fn: () => unknown) => void;
  /** Proxies, sshds, the `onStop` callbacks, the appliance, the home and the work directory; safe on a lab half made. */
  stop: () => Promise<void>;
}

export async function proxyLab(opts: ProxyLabOptions): Promise<ProxyLab> {
  const work = tempDir('warden-proxylab-');
  const proxies: RunningProxy[] = [];
  const sshds: Sshd[] = [];
  const stoppers: (() => unknown)[] = [];
  // home, a and sshd are set below, before any method can be called; `stop()` copes with a lab half made.
  const lab = {
    work: work.dir,
    targetUser: opts.targetUser,
    targetPassword: opts.targetPassword ?? `T4rget-${randomBytes(12).toString('hex')}`,
    targetKeyFile: path.join(work.dir, 'target_user_key'),
    users: {},
    hosts: {},
    groups: {},
    get proxy(): RunningProxy {
      const p = proxies.at(-1);
      if (!p) throw new Error('no proxy started in this lab');
      return p;
    },
    async startProxy(extraEnv: NodeJS.ProcessEnv = {}) {
      const p = await startTerminalProxy(lab.home, extraEnv);
      proxies.push(p);
      return p;
    },
    async startSshd(name: string, extraConfig: string[] = []) {
      const s = await startSshd(path.join(work.dir, name), { extraConfig });
      sshds.push(s);
      return s;
    },
    async addUser(name: string, spec: LabUserSpec = {}) {
      const a = lab.a;
      const first = strongPassword();
      const { user } = await a.users.create(ADMIN, { username: name, fullName: name, email: `${name}@example.test`, profile: 'privileged-access-user', password: first });
      let password = first;
      if ((spec.password ?? 'changed') === 'changed') {
        password = strongPassword();
        await a.auth.changePassword({ userId: user.id, currentPassword: first, newPassword: password, ip: '127.0.0.1' });
      } else {
        await a.store.repos.users.update(user.id, { must_change_password: spec.mustChange ?? false });
      }
      if (spec.mfa) await a.users.setMfaMethod(ADMIN, user.id, spec.mfa);
      const made = { id: user.id, row: (await a.store.repos.users.byId(user.id))!, password };
      lab.users[name] = made;
      return made;
    },
    async addHost(hostname: string, port = lab.sshd.port) {
      const deviceId = (await lab.a.devices.createDevice(ADMIN, { hostname, address: '127.0.0.1', connectivity: `SSH:${port}` })).id;
      const credentialId = (await lab.a.credentials.createCredential(ADMIN, { deviceId, username: opts.targetUser, secret: lab.targetPassword })).id;
      lab.hosts[hostname] = { deviceId, credentialId };
      return lab.hosts[hostname]!;
    },
    async addGroup(spec: LabGroupSpec) {
      const flags = {
        ...(spec.allowPortForwarding === undefined ? {} : { allowPortForwarding: spec.allowPortForwarding }),
        ...(spec.allowAgentForwarding === undefined ? {} : { allowAgentForwarding: spec.allowAgentForwarding }),
      };
      const host = (h: string) => lab.hosts[h] ?? missing(`no host ${h} in this lab`);
      const group = await lab.a.accessGroups.saveGroup(ADMIN, {
        name: spec.name,
        userIds: spec.users.map((u) => (lab.users[u] ?? missing(`no user ${u} in this lab`)).id),
        deviceIds: spec.hosts.map((h) => host(h).deviceId),
        credentialIds: spec.hosts.map((h) => host(h).credentialId),
        ...flags,
      });
      if (spec.commandRules) await lab.a.accessGroups.setCommandRules(ADMIN, group.id, { mode: 'rules', rules: spec.commandRules });
      lab.groups[spec.name] = group;
      return group;
    },
    onStop(fn: () => unknown) {
      stoppers.push(fn);
    },
    async stop() {
      for (const p of [...proxies].reverse()) await p.stop();
      for (const s of [...sshds].reverse()) await s.stop();
      for (const fn of [...stoppers].reverse()) await fn();
      await (lab.a as Appliance | undefined)?.close();
      (lab.home as InitializedHome | undefined)?.cleanup();
      work.cleanup();
    },
  } as unknown as ProxyLab;
  try {
    lab.home = await initializedHome();
    if (opts.config) {
      const config = JSON.parse(readFileSync(lab.home.configFile, 'utf8'));
      opts.config(config);
      writeFileSync(lab.home.configFile, JSON.stringify(config));
    }
    lab.sshd = await lab.startSshd('sshd', opts.sshdConfig);
    let publicKey: string | undefined;
    if (opts.targetKey) {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', lab.targetKeyFile]);
      publicKey = readFileSync(`${lab.targetKeyFile}.pub`, 'utf8').trim();
    }
    ensureTargetAccount(opts.targetUser, lab.targetPassword, publicKey);
    lab.a = await Appliance.open(loadConfig({ WARDEN_HOME: lab.home.home }));
    if (opts.settings) await lab.a.settings.update(opts.settings, 'admin', null);
    for (const [name, spec] of Object.entries(opts.users ?? {})) await lab.addUser(name, spec);
    for (const h of opts.hosts ?? []) await lab.addHost(h);
    for (const g of opts.groups ?? []) await lab.addGroup(g);
    if (opts.startProxy ?? true) await lab.startProxy();
  } catch (e) {
    await lab.stop().catch(() => {});
    throw e;
  }
  return lab;
}

/** For `??` where a name the suite gave is not in the lab: a plain error saying which. */
function missing(message: string): never {
  throw new Error(message);
}
