// Protected information: files, tokens and certificates, sealed, each belonging to a device or an access
// group; who may open one is the access decision's to say, through that owner.
import type { Store } from '../store/index.js';
import { isUniqueViolation } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import { insertSealed, type Vault } from '../vault/index.js';
import { InputError, NotFoundError, WardenError } from '../errors/index.js';
import { requireText } from '../errors/index.js';
import type { Decision } from './decision.js';
import type { AccessDecisions } from './access-decisions.js';
import { can } from './profiles.js';
import { servableMediaType, validateMediaType } from './media-type.js';
import { audited } from './audited.js';
import { optionalId, optionalText } from './input.js';
import type { Actor } from './user-admin.js';

/** Largest protected file. */
export const MAX_PROTECTED_BYTES = 10 * 1024 * 1024;

export interface ProtectedItemView {
  id: number;
  name: string;
  kind: string;
  filename: string;
  /** Always a valid media type (a bad stored value reads as application/octet-stream). */
  mediaType: string;
  size: number;
  /** Who stored it. */
  owner: string;
  /** What it belongs to: exactly one of the two (both null for an item from before owners). */
  deviceId: number | null;
  accessGroupId: number | null;
  createdAt: string;
}

const PROTECTED_FIELDS = ['name', 'kind', 'filename', 'mediaType', 'contentBase64', 'deviceId', 'accessGroupId'];

function protectedItemView(p: { id: number; name: string; kind: string; filename: string; media_type: string; size: number; owner: string; device_id: number | null; group_id: number | null; created_at: number }): ProtectedItemView {
  return {
    id: p.id,
    name: p.name,
    kind: p.kind,
    filename: p.filename || p.name,
    mediaType: servableMediaType(p.media_type),
    size: p.size,
    owner: p.owner,
    deviceId: p.device_id,
    accessGroupId: p.group_id,
    createdAt: new Date(p.created_at).toISOString(),
  };
}

export interface ProtectedItemAccess extends ProtectedItemView {
  /** What the decision says for this user now: allowed, approval-required or denied (e.g. outside the window). */
  access: Decision['outcome'];
}

export class ProtectedItemService {
  constructor(private readonly deps: { store: Store; audit: AuditTrail; vault: Vault; decisions: AccessDecisions; clock?: () => number }) {}

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }

  /**
   * Store a protected file, token or certificate, sealed. It belongs to exactly one device (`deviceId`) or
   * access group (`accessGroupId`): the access decision says who opens it, through that owner.
   */
  async storeProtected(actor: Actor, input: unknown): Promise<{ id: number }> {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InputError('item must be an object');
    const i = input as Record<string, unknown>;
    for (const k of Object.keys(i)) if (!PROTECTED_FIELDS.includes(k)) throw new InputError(`unknown field ${k}`, { field: k });
    const name = requireText(i.name, 'name', { min: 1, max: 255 });
    const kind = i.kind;
    if (kind !== 'file' && kind !== 'token' && kind !== 'certificate') throw new InputError('kind must be file, token or certificate', { field: 'kind' });
    const filename = optionalText(i.filename, 'filename', 255);
    if (/[\\/]|^\.\.?$/.test(filename)) throw new InputError('filename must be a plain file name, without directories', { field: 'filename' });
    const mediaType = validateMediaType(i.mediaType);
    const deviceId = optionalId(i.deviceId, 'deviceId');
    const groupId = optionalId(i.accessGroupId, 'accessGroupId');
    if ((deviceId === null) === (groupId === null)) throw new InputError('a protected item belongs to exactly one owner: deviceId or accessGroupId', { field: deviceId === null ? 'deviceId' : 'accessGroupId' });
    if (typeof i.contentBase64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(i.contentBase64)) throw new InputError('contentBase64 must be base64', { field: 'contentBase64' });
    const content = Buffer.from(i.contentBase64, 'base64');
    if (content.length === 0 || content.length > MAX_PROTECTED_BYTES) throw new InputError(`content must be 1 byte to ${MAX_PROTECTED_BYTES} bytes`, { field: 'contentBase64' });
    try {
      // Sealed before the transaction, for the id the item is expected to get (see createCredential).
      const guess = (await this.deps.store.repos.protectedItems.highestProtectedId()) + 1;
      const seal = (id: number) => this.deps.vault.seal(content, `protected:${id}`);
      const id = await insertSealed(guess, seal, (sealed, confirm) =>
        audited(this.deps.audit, { type: 'vault.protected_store', actor, subject: name, detail: { kind, size: content.length, deviceId, groupId, mediaType } }, async (repos) => {
          // The owner is checked in the transaction that stores the item, so it cannot vanish in between.
          if (deviceId !== null && !(await repos.devices.device(deviceId))) throw new InputError('deviceId is not a device', { field: 'deviceId' });
          if (groupId !== null && !(await repos.accessGroups.group(groupId))) throw new InputError('accessGroupId is not an access group', { field: 'accessGroupId' });
          const id = await repos.protectedItems.insertProtected({ name, kind, filename, media_type: mediaType, size: content.length, content_sealed: sealed, owner: actor.username, device_id: deviceId, group_id: groupId, created_at: this.now() });
          confirm(id);
          return id;
        }),
      );
      return { id };
    } catch (e) {
      if (isUniqueViolation(e, { table: 'protected_items', column: 'name' })) throw new WardenError('CONFLICT', `a protected item named ${name} exists`);
      throw e;
    } finally {
      content.fill(0);
    }
  }

  /** Give a protected item its owner (a device or an access group): how items from before owners get one. */
  async setProtectedOwner(actor: Actor, id: number, input: unknown): Promise<ProtectedItemView> {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InputError('owner must be an object');
    const i = input as Record<string, unknown>;
    for (const k of Object.keys(i)) if (k !== 'deviceId' && k !== 'accessGroupId') throw new InputError(`unknown field ${k}`, { field: k });
    const deviceId = optionalId(i.deviceId, 'deviceId');
    const groupId = optionalId(i.accessGroupId, 'accessGroupId');
    if ((deviceId === null) === (groupId === null)) throw new InputError('a protected item belongs to exactly one owner: deviceId or accessGroupId', { field: deviceId === null ? 'deviceId' : 'accessGroupId' });
    const item = await this.protectedItem(id);
    await audited(this.deps.audit, { type: 'vault.protected_owner', actor, subject: item.name, detail: { id, from: { deviceId: item.deviceId, groupId: item.accessGroupId }, to: { deviceId, groupId } } }, async (repos) => {
      if (deviceId !== null && !(await repos.devices.device(deviceId))) throw new InputError('deviceId is not a device', { field: 'deviceId' });
      if (groupId !== null && !(await repos.accessGroups.group(groupId))) throw new InputError('accessGroupId is not an access group', { field: 'accessGroupId' });
      await repos.protectedItems.setProtectedOwner(id, deviceId, groupId);
    });
    return this.protectedItem(id);
  }

  /** Every protected item's description (never its content); who may see which is the access decision's to say. */
  async protectedItems(): Promise<ProtectedItemView[]> {
    return (await this.deps.store.repos.protectedItems.protectedItems()).map(protectedItemView);
  }

  async protectedItem(id: number): Promise<ProtectedItemView> {
    const p = await this.deps.store.repos.protectedItems.protectedItem(id);
    if (!p) throw new NotFoundError('protected item');
    return protectedItemView(p);
  }

  /** The clear content of a protected item, for a caller that has decided and audits the opening. */
  async protectedContent(id: number): Promise<Buffer> {
    const item = await this.deps.store.repos.protectedItems.protectedItem(id);
    if (!item) throw new NotFoundError('protected item');
    return this.deps.vault.open(item.content_sealed, `protected:${id}`);
  }

  /**
   * The protected items a user may know of: those their groups own (through the owning group or device),
   * each with what the decision says now. Credential managers see every item's description, never its content.
   */
  async listProtected(userId: number): Promise<ProtectedItemAccess[]> {
    const user = await this.deps.store.repos.users.byId(userId);
    if (!user) return [];
    const manager = can(user.profile, 'credentials.manage');
    const timeZone = await this.deps.decisions.timeZone();
    const at = this.now();
    const out: ProtectedItemAccess[] = [];
    for (const item of await this.protectedItems()) {
      const { decision, covered } = await this.deps.decisions.decideItemIn(this.deps.store.repos, timeZone, userId, item, at);
      if (covered || manager) out.push({ ...item, access: decision.outcome });
    }
    return out;
  }

  /**
   * One page of the protected items a user may know of (as listProtected: a credential manager every item's
   * description, anyone else those their groups own), by name, filtered by text, each with what the decision
   * says now; and how many there are. The decisions are made for the page only.
   */
  async pageProtected(userId: number, page: { text?: string; limit: number; offset: number }): Promise<{ files: (ProtectedItemAccess & { ownerName: string | null })[]; total: number }> {
    const user = await this.deps.store.repos.users.byId(userId);
    if (!user) return { files: [], total: 0 };
    const text = page.text?.trim() || undefined;
    const { rows, total } = await this.deps.store.repos.protectedItems.pageProtected({ visibleTo: can(user.profile, 'credentials.manage') ? 'all' : userId, ...(text ? { text } : {}), limit: page.limit, offset: page.offset });
    const timeZone = await this.deps.decisions.timeZone();
    const at = this.now();
    const files: (ProtectedItemAccess & { ownerName: string | null })[] = [];
    for (const row of rows) {
      const item = protectedItemView(row);
      const { decision } = await this.deps.decisions.decideItemIn(this.deps.store.repos, timeZone, userId, item, at);
      files.push({ ...item, ownerName: row.device_hostname ?? row.group_name ?? null, access: decision.outcome });
    }
    return { files, total };
  }

  /**
   * Open a protected item for a user the access decision allows, as a password view is allowed: the owning device's or
   * group's access groups, their windows and approvals. A reason is always required; every opening and every
   * refusal is audited.
   */
  async openProtected(actor: Actor & { userId: number }, id: number, reason: string): Promise<{ name: string; filename: string; mediaType: string; content: Buffer }> {
    const why = requireText(reason, 'reason', { min: 3, max: 1024 });
    let item: ProtectedItemView | undefined;
    try {
      item = await this.protectedItem(id);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
    const { decision: d, covered } = item
      ? await this.deps.decisions.decideItemIn(this.deps.store.repos, await this.deps.decisions.timeZone(), actor.userId, item, this.now())
      : { decision: { outcome: 'denied', rule: 'no-such-item' } as Decision, covered: false };
    if (!item || d.outcome !== 'allowed') {
      await this.deps.audit.record({ type: 'vault.protected_view', outcome: 'failure', actor: actor.username, actorIp: actor.ip, subject: `protected:${id}`, code: 'AUTH_FORBIDDEN', detail: { id, rule: d.rule, reason: why } });
      if (!covered) throw new WardenError('AUTH_FORBIDDEN', 'not allowed');
      throw new WardenError('AUTH_FORBIDDEN', d.outcome === 'approval-required' ? 'approval is required first' : `not allowed (${d.rule})`, { details: { rule: d.rule, outcome: d.outcome } });
    }
    const content = await this.protectedContent(id);
    await this.deps.audit.record({ type: 'vault.protected_view', outcome: 'success', actor: actor.username, actorIp: actor.ip, subject: item.name.slice(0, 128), detail: { id, reason: why, rule: d.rule, emergency: d.emergency } });
    return { name: item.name, filename: item.filename, mediaType: item.mediaType, content };
  }
}
