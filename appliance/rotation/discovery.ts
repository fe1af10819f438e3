// Discovery over SSH, no agent: with a discovery credential, read a device's local accounts (/etc/passwd, the
// password ages in /etc/shadow where readable), which of them are privileged (uid 0, the root/sudo/wheel/admin
// groups, named in sudoers directly or by %group) and each account's authorized SSH keys; with passwordless sudo
// the account reads what only root may. Findings land in a review list per device — new, changed, gone since the
// last run — until an administrator imports an account into the vault (optionally setting a new password at once
// through the discovery credential) or dismisses it. The remote side is one read-only shell script on standard
// input; the parsing of the files is here, because their formats are a few lines each and no library reads them.
import { createHash } from 'node:crypto';
import type { Client } from 'ssh2';
import type { Store, DiscoveryFindingRow, DiscoveryFindingsTable } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import type { Vault } from '../vault/index.js';
import { DEFAULT_SETTINGS, type SettingsService } from '../settings/index.js';
import { actorEvent, parseConnectivity, type Actor, type CredentialService, type HostKeyService } from '../access/index.js';
import { InputError, NotFoundError, WardenError } from '../errors/index.js';
import { sshFingerprint } from '../net/index.js';
import { logger } from '../log/index.js';
import { RotationError, loginAs, type RotationTarget } from './ssh-executor.js';
import { generatePassword } from './password-generator.js';
import type { RotationService } from './rotation-service.js';

const log = logger('discovery');

/** Groups whose members administer a Unix host. */
const ADMIN_GROUPS = new Set(['root', 'sudo', 'wheel', 'admin']);
/** Shells that mean "no interactive login". */
const NO_LOGIN = /(^|\/)(nologin|false|sync|shutdown|halt)$/;
/** The most a run reads back (a host with thousands of keys stays well under it). */
const MAX_OUTPUT = 4 * 1024 * 1024;

// One read-only script, sent on standard input to `sh -s`: sections marked by a line the files cannot hold. What
// needs root runs in one `sudo -n sh -c` (one sudo, not one per file) when the account may.
const SCRIPT = `R=
if [ "$(id -u)" != 0 ] && sudo -n true 2>/dev/null; then R="sudo -n"; fi
echo "@@warden passwd"; cat /etc/passwd
echo "@@warden group"; cat /etc/group
$R sh -c '
echo "@@warden shadow"; cat /etc/shadow 2>/dev/null || echo "@@warden unreadable"
echo "@@warden sudoers"
{ cat /etc/sudoers && for f in /etc/sudoers.d/*; do if [ -f "$f" ]; then cat "$f"; fi; done; } 2>/dev/null || echo "@@warden unreadable"
while IFS=: read -r name x uid gid gecos home shell; do
  for f in "$home/.ssh/authorized_keys" "$home/.ssh/authorized_keys2"; do
    if [ -f "$f" ] && [ -r "$f" ]; then echo "@@warden keys $name"; cat "$f"; echo; fi
  done
done < /etc/passwd
'
echo "@@warden end"
`;

export interface DiscoveredAccount {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
  groups: string[];
  /** Why it is privileged ('uid 0', 'group sudo', 'sudoers', 'sudoers %wheel'); empty: it is not. */
  privileged: string[];
  /** From /etc/shadow when readable: no usable password ('!', '*'), and when it last changed (YYYY-MM-DD). */
  locked: boolean | null;
  passwordChanged: string | null;
}

export interface DiscoveredKey {
  account: string;
  type: string;
  fingerprint: string;
  comment: string;
}

export interface DiscoveryResult {
  accounts: DiscoveredAccount[];
  keys: DiscoveredKey[];
  readShadow: boolean;
  readSudoers: boolean;
}

/** The script's output, read: the accounts worth a look (interactive, privileged, with a password or keys) and the keys. */
export function parseDiscovery(output: string): DiscoveryResult {
  const sections = new Map<string, string[]>();
  const keyLines = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const raw of output.replace(/\r/g, '').split('\n')) {
    const m = /^@@warden (\w+)(?: (.*))?$/.exec(raw);
    if (m) {
      if (m[1] === 'unreadable') {
        if (current) current.push('@@unreadable');
        continue;
      }
      if (m[1] === 'keys') {
        current = keyLines.get(m[2] ?? '') ?? [];
        keyLines.set(m[2] ?? '', current);
      } else {
        current = [];
        sections.set(m[1]!, current);
      }
      continue;
    }
    current?.push(raw);
  }
  if (!sections.has('end')) throw new WardenError('DISCOVERY_FAILED', 'the discovery script did not finish on the device');
  const fields = (name: string) => (sections.get(name) ?? []).filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(':'));
  const shadowLines = sections.get('shadow') ?? [];
  const sudoLines = sections.get('sudoers') ?? [];
  const readShadow = !shadowLines.includes('@@unreadable') && shadowLines.length > 0;
  const readSudoers = !sudoLines.includes('@@unreadable');

  const groupsOf = new Map<string, Set<string>>();
  const groupName = new Map<number, string>();
  for (const [name, , gid, members] of fields('group')) {
    groupName.set(Number(gid), name!);
    for (const m of (members ?? '').split(',').filter((x) => x !== '')) (groupsOf.get(m) ?? groupsOf.set(m, new Set()).get(m)!).add(name!);
  }
  const shadow = new Map<string, { locked: boolean; changed: string | null }>();
  if (readShadow) {
    for (const [name, hash, lastchg] of fields('shadow')) {
      const days = Number(lastchg);
      shadow.set(name!, { locked: hash === '' ? false : /^[!*]/.test(hash ?? ''), changed: lastchg && Number.isFinite(days) && days > 0 ? new Date(days * 86_400_000).toISOString().slice(0, 10) : null });
    }
  }
  // sudoers: "user spec" and "%group spec" lines (Defaults, aliases and includes are not resolved).
  const sudoUsers = new Set<string>();
  const sudoGroups = new Set<string>();
  for (const line of sudoLines) {
    const l = line.trim();
    if (l === '' || l.startsWith('#') || l.startsWith('@') || /^Defaults/.test(l) || /_Alias\s/.test(l)) continue;
    const who = l.split(/\s+/)[0]!;
    if (who.startsWith('%')) sudoGroups.add(who.slice(1));
    else sudoUsers.add(who);
  }

  const keys: DiscoveredKey[] = [];
  for (const [account, lines] of keyLines) {
    for (const line of lines) {
      const tokens = line.trim().split(/\s+/);
      const at = tokens.findIndex((t) => /^(ssh-|ecdsa-sha2-|sk-)/.test(t));
      if (at < 0 || !tokens[at + 1]) continue;
      let blob: Buffer;
      try {
        blob = Buffer.from(tokens[at + 1]!, 'base64');
      } catch {
        continue;
      }
      if (blob.length < 16) continue;
      keys.push({ account, type: tokens[at]!, fingerprint: sshFingerprint(blob), comment: tokens.slice(at + 2).join(' ').slice(0, 200) });
    }
  }
  const withKeys = new Set(keys.map((k) => k.account));

  const accounts: DiscoveredAccount[] = [];
  for (const [name, , uidText, gidText, , home, shell] of fields('passwd')) {
    if (!name) continue;
    const uid = Number(uidText);
    const gid = Number(gidText);
    const groups = [...new Set([groupName.get(gid) ?? String(gid), ...(groupsOf.get(name) ?? [])])].sort();
    const privileged: string[] = [];
    if (uid === 0) privileged.push('uid 0');
    for (const g of groups) if (ADMIN_GROUPS.has(g)) privileged.push(`group ${g}`);
    if (sudoUsers.has(name)) privileged.push('sudoers');
    for (const g of groups) if (sudoGroups.has(g) && !ADMIN_GROUPS.has(g)) privileged.push(`sudoers %${g}`);
    const s = shadow.get(name);
    const interactive = !NO_LOGIN.test(shell ?? '') && (uid === 0 || (uid >= 1000 && uid !== 65534));
    const hasPassword = s !== undefined && !s.locked;
    if (!(interactive || privileged.length > 0 || withKeys.has(name) || hasPassword)) continue;
    accounts.push({ name, uid, gid, home: home ?? '', shell: shell ?? '', groups, privileged, locked: s ? s.locked : null, passwordChanged: s?.changed ?? null });
  }
  return { accounts, keys, readShadow, readSudoers };
}

function stableHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

export interface FindingView {
  id: number;
  deviceId: number;
  kind: 'account' | 'ssh-key';
  name: string;
  detail: unknown;
  state: DiscoveryFindingRow['state'];
  review: DiscoveryFindingRow['review'];
  credentialId: number | null;
  firstSeen: string;
  lastSeen: string;
}

function findingView(r: DiscoveryFindingRow): FindingView {
  return { id: r.id, deviceId: r.device_id, kind: r.kind, name: r.name, detail: JSON.parse(r.detail) as unknown, state: r.state, review: r.review, credentialId: r.credential_id, firstSeen: new Date(Number(r.first_seen)).toISOString(), lastSeen: new Date(Number(r.last_seen)).toISOString() };
}

export interface DiscoveryDeps {
  store: Store;
  audit: AuditTrail;
  vault: Vault;
  hostKeys: HostKeyService;
  credentials: CredentialService;
  rotation: RotationService;
  settings?: SettingsService;
  clock?: () => number;
}

export class DiscoveryService {
  private readonly now: () => number;
  private readonly running = new Set<number>();

  constructor(private readonly deps: DiscoveryDeps) {
    this.now = deps.clock ?? Date.now;
  }

  /**
   * Run discovery on a device with `credentialId` (else the device's discovery credential, which a run with an
   * explicit one sets). Answers what changed since the last run; DISCOVERY_FAILED when the device could not be read.
   */
  async run(actor: Actor, deviceId: number, credentialId?: number): Promise<{ new: number; changed: number; gone: number; unchanged: number; readShadow: boolean; readSudoers: boolean }> {
    const repos = this.deps.store.repos;
    const device = await repos.devices.device(deviceId);
    if (!device) throw new NotFoundError('device');
    const chosen = credentialId ?? device.discovery_credential_id ?? undefined;
    if (chosen === undefined) throw new InputError('name the discovery credential (a privileged account of this device) for its first run', { field: 'credentialId' });
    const credential = await repos.credentials.credential(chosen);
    if (!credential || credential.device_id !== deviceId || credential.status !== 'active') throw new InputError('the discovery credential must be an active credential of this device', { field: 'credentialId' });
    const port = parseConnectivity(device.connectivity).get('SSH');
    if (port === undefined) throw new InputError(`discovery reads ${device.hostname} over SSH, which it does not offer`, { field: 'connectivity' });
    if (this.running.has(deviceId)) throw new WardenError('CONFLICT', 'a discovery of this device is running now');
    this.running.add(deviceId);
    try {
      const target: RotationTarget = { address: device.address, port, username: credential.username, checkHostKey: (fp) => this.deps.hostKeys.checkHostKey(device.id, 'ssh', fp) };
      const secret = await this.deps.vault.open(credential.secret_sealed, `credential:${credential.id}`);
      let output: string;
      try {
        const client = await loginAs(target, secret, { username: credential.username, secretKind: credential.secret_kind, refused: 'current-password-refused' }, 20_000);
        try {
          output = await readAll(client, 'sh -s', SCRIPT, 60_000);
        } finally {
          client.end();
        }
      } catch (e) {
        const why = e instanceof RotationError ? e.reason : (e as Error).message;
        await this.deps.audit.record(actorEvent('discovery.run', actor, `device:${deviceId}`, { credential: credential.id, reason: why }, 'failure'));
        throw new WardenError('DISCOVERY_FAILED', `the device could not be read: ${why}`, { details: { reason: why } });
      } finally {
        secret.fill(0);
      }
      const found = parseDiscovery(output);
      const at = this.now();
      const items = [
        ...found.accounts.map((a) => ({ kind: 'account' as const, name: a.name, detail: a })),
        ...found.keys.map((k) => ({ kind: 'ssh-key' as const, name: `${k.account}:${k.fingerprint}`, detail: k })),
      ];
      const counts = { new: 0, changed: 0, gone: 0, unchanged: 0 };
      await this.deps.store.transaction(async (r) => {
        counts.new = counts.changed = counts.gone = counts.unchanged = 0;
        const stored = new Map((await r.discovery.ofDevice(deviceId)).map((f) => [`${f.kind}\u0000${f.name}`, f]));
        for (const item of items) {
          const key = `${item.kind}\u0000${item.name}`;
          const hash = stableHash(item.detail);
          const was = stored.get(key);
          stored.delete(key);
          if (!was) {
            counts.new++;
            await r.discovery.insert({ device_id: deviceId, kind: item.kind, name: item.name.slice(0, 255), detail: JSON.stringify(item.detail), detail_hash: hash, state: 'new', review: 'pending', credential_id: null, first_seen: at, last_seen: at, reviewed_by: null });
          } else if (was.detail_hash !== hash || was.state === 'gone') {
            counts.changed++;
            // A change puts it back for review, unless it is in the vault already and only its details moved.
            await r.discovery.update(was.id, { detail: JSON.stringify(item.detail), detail_hash: hash, state: 'changed', review: was.review === 'imported' && was.state !== 'gone' ? 'imported' : 'pending', last_seen: at });
          } else {
            counts.unchanged++;
            await r.discovery.update(was.id, { state: 'unchanged', last_seen: at });
          }
        }
        for (const gone of stored.values()) {
          if (gone.state === 'gone') continue;
          counts.gone++;
          await r.discovery.update(gone.id, { state: 'gone', review: gone.review === 'dismissed' ? 'dismissed' : 'pending' });
        }
        await r.discovery.setDeviceDiscovery(deviceId, credential.id, at);
        await this.deps.audit.record(actorEvent('discovery.run', actor, `device:${deviceId}`, { credential: credential.id, readShadow: found.readShadow, readSudoers: found.readSudoers, ...counts }), r);
      });
      log.info('discovery ran', { device: deviceId, ...counts });
      return { ...counts, readShadow: found.readShadow, readSudoers: found.readSudoers };
    } finally {
      this.running.delete(deviceId);
    }
  }

  async list(filter: { deviceId?: number; review?: DiscoveryFindingsTable['review']; limit: number; offset: number }): Promise<FindingView[]> {
    return (await this.deps.store.repos.discovery.list(filter)).map(findingView);
  }

  /**
   * Import a discovered account into the vault as a credential of its device. `rotate`: the password is set anew at
   * once through the discovery credential (as the new credential's change account) and proved; otherwise `secret`
   * is the account's password as someone knows it. Keys cannot be imported (the private half is not on the device).
   */
  async importFinding(actor: Actor, findingId: number, opts: { secret?: string; rotate?: boolean }): Promise<{ credentialId: number; rotated: boolean; rotationError?: string }> {
    const finding = await this.deps.store.repos.discovery.finding(findingId);
    if (!finding) throw new NotFoundError('finding');
    if (finding.kind !== 'account') throw new InputError('only accounts are imported (a key\'s private half is not on the device)', { field: 'finding' });
    if (finding.review === 'imported' && finding.credential_id !== null) throw new WardenError('CONFLICT', 'this account was imported already');
    if (finding.state === 'gone') throw new InputError('this account is gone from the device', { field: 'finding' });
    const device = await this.deps.store.repos.devices.device(finding.device_id);
    if (!device) throw new NotFoundError('device');
    if (!opts.rotate && (opts.secret === undefined || opts.secret === '')) throw new InputError('give the account\'s password, or ask for a new one (rotate)', { field: 'secret' });
    const detail = JSON.parse(finding.detail) as DiscoveredAccount;
    const changer = device.discovery_credential_id;
    if (opts.rotate && changer === null) throw new InputError('the device has no discovery credential to set the password with', { field: 'rotate' });
    const created = await this.deps.credentials.createCredential(actor, {
      deviceId: device.id,
      username: finding.name,
      kind: detail.privileged.length > 0 ? 'local-privileged' : 'local-user',
      // With rotate: a placeholder no one knows, replaced at once by the reconciliation below.
      secret: opts.rotate ? generatePassword() : opts.secret,
      ...(opts.rotate ? { changeCredentialId: changer } : {}),
    });
    await this.deps.audit.withChange(actorEvent('discovery.import', actor, `device:${device.id}`, { finding: finding.id, credential: created.id, rotate: opts.rotate === true }), (r) =>
      r.discovery.update(finding.id, { review: 'imported', credential_id: created.id, reviewed_by: actor.username }),
    );
    if (!opts.rotate) return { credentialId: created.id, rotated: false };
    try {
      await this.deps.rotation.reconcile(actor, created.id, 'manual', `imported from discovery finding ${finding.id}`);
      return { credentialId: created.id, rotated: true };
    } catch (e) {
      return { credentialId: created.id, rotated: false, rotationError: (e as Error).message };
    }
  }

  async dismiss(actor: Actor, findingId: number): Promise<void> {
    const finding = await this.deps.store.repos.discovery.finding(findingId);
    if (!finding) throw new NotFoundError('finding');
    await this.deps.audit.withChange(actorEvent('discovery.dismiss', actor, `device:${finding.device_id}`, { finding: finding.id, kind: finding.kind, name: finding.name.slice(0, 200) }), (r) =>
      r.discovery.update(finding.id, { review: 'dismissed', reviewed_by: actor.username }),
    );
  }

  /** The scheduled discovery: each device with a discovery credential whose last run is older than the interval. */
  async runDue(): Promise<{ ran: number; failed: number }> {
    const hours = (await this.deps.settings?.current())?.rotation.discoveryIntervalHours ?? DEFAULT_SETTINGS.rotation.discoveryIntervalHours;
    if (hours <= 0) return { ran: 0, failed: 0 };
    let ran = 0;
    let failed = 0;
    for (const d of await this.deps.store.repos.discovery.devicesDue(this.now() - hours * 3_600_000)) {
      try {
        await this.run({ username: 'system', ip: null }, d.id);
        ran++;
      } catch (e) {
        failed++;
        log.warn('a scheduled discovery failed', { device: d.id, error: (e as Error).message });
      }
    }
    return { ran, failed };
  }
}

/** Run `command` with `input` on standard input and answer everything it printed (at most MAX_OUTPUT). */
function readAll(client: Client, command: string, input: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, channel) => {
      if (err) return reject(new RotationError('change-refused', err.message));
      const chunks: Buffer[] = [];
      let size = 0;
      const timer = setTimeout(() => {
        channel.close();
        reject(new RotationError('target-timeout'));
      }, timeoutMs);
      channel.on('data', (d: Buffer) => {
        size += d.length;
        if (size > MAX_OUTPUT) {
          channel.close();
          return;
        }
        chunks.push(d);
      });
      channel.stderr.on('data', () => {});
      channel.on('close', () => {
        clearTimeout(timer);
        if (size > MAX_OUTPUT) return reject(new WardenError('DISCOVERY_FAILED', 'the device answered more than discovery reads'));
        resolve(Buffer.concat(chunks).toString('utf8'));
      });
      channel.end(input);
    });
  });
}
