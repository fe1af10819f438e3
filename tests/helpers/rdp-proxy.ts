// The set-up the RDP proxy suites share: an initialized appliance opened in this process, Warden users, RDP
// devices (each reaching a target on a loopback port with one credential), access groups, and the RDP proxy
// daemon as a process — with one `stop()` that takes it all down.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Appliance } from '../../appliance/index.js';
import { loadConfig } from '../../appliance/config/index.js';
import type { AccessGroupView } from '../../appliance/access/index.js';
import { initializedHome, strongPassword, type InitializedHome } from './fixtures.js';
import { startProxyProcess, type RunningProxy } from './terminal-proxy.js';

const distRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RDP_PROXY_MAIN = path.join(distRoot, 'daemons', 'rdp-proxy', 'main.js');
export const ADMIN = { username: 'admin', ip: '127.0.0.1' };

export function startRdpProxy(home: InitializedHome, extraEnv: NodeJS.ProcessEnv = {}): Promise<RunningProxy> {
  return startProxyProcess(home, { main: RDP_PROXY_MAIN, name: 'RDP proxy', ready: /warden-rdp-proxy ready: rdp:\/\/[^:]+:(\d+)/ }, extraEnv);
}

export interface RdpLab {
  home: InitializedHome;
  a: Appliance;
  proxy: RunningProxy;
  users: Record<string, { id: number; password: string }>;
  hosts: Record<string, { deviceId: number; credentialId: number }>;
  addUser: (name: string, opts?: { mfa?: 'totp' | 'x509' | null }) => Promise<{ id: number; password: string }>;
  /** A device on 127.0.0.1:`port` speaking RDP, with one credential. */
  addHost: (hostname: string, port: number, credential: { username: string; password: string; domain?: string }) => Promise<{ deviceId: number; credentialId: number }>;
  addGroup: (name: string, users: string[], hosts: string[]) => Promise<AccessGroupView>;
  startProxy: () => Promise<RunningProxy>;
  stop: () => Promise<void>;
}

export async function rdpLab(): Promise<RdpLab> {
  const proxies: RunningProxy[] = [];
  const lab = {
    users: {},
    hosts: {},
    get proxy(): RunningProxy {
      const p = proxies.at(-1);
      if (!p) throw new Error('no proxy started in this lab');
      return p;
    },
    async startProxy() {
      const p = await startRdpProxy(lab.home);
      proxies.push(p);
      return p;
    },
    async addUser(name: string, opts: { mfa?: 'totp' | 'x509' | null } = {}) {
      const a = lab.a;
      const first = strongPassword();
      const { user } = await a.users.create(ADMIN, { username: name, fullName: name, email: `${name}@example.test`, profile: 'privileged-access-user', password: first });
      const password = strongPassword();
      await a.auth.changePassword({ userId: user.id, currentPassword: first, newPassword: password, ip: '127.0.0.1' });
      if (opts.mfa) await a.users.setMfaMethod(ADMIN, user.id, opts.mfa);
      lab.users[name] = { id: user.id, password };
      return lab.users[name]!;
    },
    async addHost(hostname: string, port: number, credential: { username: string; password: string; domain?: string }) {
      const deviceId = (await lab.a.devices.createDevice(ADMIN, { hostname, address: '127.0.0.1', connectivity: `RDP:${port}` })).id;
      const credentialId = (await lab.a.credentials.createCredential(ADMIN, { deviceId, username: credential.username, secret: credential.password, ...(credential.domain ? { domain: credential.domain } : {}) })).id;
      lab.hosts[hostname] = { deviceId, credentialId };
      return lab.hosts[hostname]!;
    },
    async addGroup(name: string, users: string[], hosts: string[]) {
      return lab.a.accessGroups.saveGroup(ADMIN, {
        name,
        userIds: users.map((u) => lab.users[u]!.id),
        deviceIds: hosts.map((h) => lab.hosts[h]!.deviceId),
        credentialIds: hosts.map((h) => lab.hosts[h]!.credentialId),
      });
    },
    async stop() {
      for (const p of [...proxies].reverse()) await p.stop();
      await (lab.a as Appliance | undefined)?.close();
      (lab.home as InitializedHome | undefined)?.cleanup();
    },
  } as unknown as RdpLab;
  try {
    lab.home = await initializedHome();
    lab.a = await Appliance.open(loadConfig({ WARDEN_HOME: lab.home.home }));
  } catch (e) {
    await lab.stop().catch(() => {});
    throw e;
  }
  return lab;
}
