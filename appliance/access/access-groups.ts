// Access groups: who (users, approvers) reaches what (devices, credentials), how (session, password view,
// reason, approval) and when (time windows).
import type { Store, AccessGroupRow, Repositories } from '../store/index.js';
import { isStoreConstraint, isUniqueViolation } from '../store/index.js';
import type { AuditTrail } from '../audit/index.js';
import { InputError, NotFoundError, WardenError } from '../errors/index.js';
import { requireText } from '../errors/index.js';
import type { GroupOptions } from './decision.js';
import { validateTimeWindows, type TimeWindow } from './time-windows.js';
import { audited } from './audited.js';
import { flag } from './input.js';
import type { Actor } from './user-admin.js';
import { judge, validateRules, MAX_MATCH_INPUT, type CommandRule, type CommandRuleMode, type CommandVerdict } from '../commands/index.js';

export interface CommandRulesView {
  groupId: number;
  mode: CommandRuleMode;
  rules: CommandRule[];
}

export interface AccessGroupInput extends GroupOptions {
  /** Whether the terminal proxy forwards ports (`ssh -L`, `ssh -W`) for the sessions this group admits. Not
   *  part of the access decision: the session carries it (see SessionService.open). */
  allowPortForwarding: boolean;
  /** Whether the terminal proxy forwards the user's SSH agent (`ssh -A`) to the target for the sessions this
   *  group admits. Like allowPortForwarding, carried by the session, not part of the decision. */
  allowAgentForwarding: boolean;
  /** Days the secrets of its credentials live before the schedule rotates them (those with autoChange and no interval of their own); null: none. */
  rotationIntervalDays: number | null;
  userIds: number[];
  approverIds: number[];
  deviceIds: number[];
  credentialIds: number[];
}

export interface AccessGroupView extends AccessGroupInput {
  id: number;
}

/** A group in a list: its settings, and how many members of each kind (not who). */
export type AccessGroupSummary = ReturnType<typeof groupOptions> & { counts: { users: number; approvers: number; devices: number; credentials: number } };

const MAX_MEMBERS = 100_000;

/** The kinds of a group's members, as the API names them. */
export const MEMBER_KINDS = ['users', 'approvers', 'devices', 'credentials'] as const;
export type MemberKind = (typeof MEMBER_KINDS)[number];
const MEMBER_TABLE = {
  users: 'access_group_users',
  approvers: 'access_group_approvers',
  devices: 'access_group_devices',
  credentials: 'access_group_credentials',
} as const satisfies Record<MemberKind, string>;

/** A member on the group page: a user (name = user name, detail = full name), a device (host name, address)
 *  or a credential (account, its device's host name). */
export interface GroupMember {
  id: number;
  name: string;
  detail: string;
}

function ids(v: unknown, field: string): number[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > MAX_MEMBERS || !v.every((x) => Number.isInteger(x) && (x as number) > 0)) throw new InputError(`${field} must be a list of ids`, { field });
  return [...new Set(v as number[])];
}

export function validateGroup(input: unknown): AccessGroupInput {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InputError('group must be an object');
  const i = input as Record<string, unknown>;
  const allowed = ['name', 'enabled', 'sessionAllowed', 'passwordViewAllowed', 'reasonRequired', 'approvalRequired', 'approvalsNeeded', 'allowPortForwarding', 'allowAgentForwarding', 'rotationIntervalDays', 'timeWindows', 'userIds', 'approverIds', 'deviceIds', 'credentialIds'];
  for (const k of Object.keys(i)) if (!allowed.includes(k)) throw new InputError(`unknown field ${k}`, { field: k });
  const approvalsNeeded = i.approvalsNeeded ?? 1;
  const rotationIntervalDays = i.rotationIntervalDays ?? null;
  if (rotationIntervalDays !== null && (!Number.isInteger(rotationIntervalDays) || (rotationIntervalDays as number) < 1 || (rotationIntervalDays as number) > 3650)) {
    throw new InputError('rotationIntervalDays must be null or 1 to 3650', { field: 'rotationIntervalDays' });
  }
  if (!Number.isInteger(approvalsNeeded) || (approvalsNeeded as number) < 1 || (approvalsNeeded as number) > 10) throw new InputError('approvalsNeeded must be 1 to 10', { field: 'approvalsNeeded' });
  const g: AccessGroupInput = {
    name: requireText(i.name, 'name', { min: 1, max: 128 }),
    enabled: flag(i.enabled, 'enabled', true),
    sessionAllowed: flag(i.sessionAllowed, 'sessionAllowed', true),
    passwordViewAllowed: flag(i.passwordViewAllowed, 'passwordViewAllowed', false),
    reasonRequired: flag(i.reasonRequired, 'reasonRequired', false),
    approvalRequired: flag(i.approvalRequired, 'approvalRequired', false),
    approvalsNeeded: approvalsNeeded as number,
    allowPortForwarding: flag(i.allowPortForwarding, 'allowPortForwarding', false),
    allowAgentForwarding: flag(i.allowAgentForwarding, 'allowAgentForwarding', false),
    rotationIntervalDays: rotationIntervalDays as number | null,
    timeWindows: validateTimeWindows(i.timeWindows ?? []),
    userIds: ids(i.userIds, 'userIds'),
    approverIds: ids(i.approverIds, 'approverIds'),
    deviceIds: ids(i.deviceIds, 'deviceIds'),
    credentialIds: ids(i.credentialIds, 'credentialIds'),
  };
  if (g.approvalRequired && g.approverIds.length < g.approvalsNeeded) throw new InputError('a group that requires approval needs at least approvalsNeeded approvers', { field: 'approverIds' });
  return g;
}

/** A group row's options, as the views and the decision read them. */
export function groupOptions(g: AccessGroupRow) {
  return {
    id: g.id,
    name: g.name,
    enabled: g.enabled,
    sessionAllowed: g.session_allowed,
    passwordViewAllowed: g.password_view_allowed,
    reasonRequired: g.reason_required,
    approvalRequired: g.approval_required,
    approvalsNeeded: g.approvals_needed,
    allowPortForwarding: g.allow_port_forwarding,
    allowAgentForwarding: g.allow_agent_forwarding,
    rotationIntervalDays: g.rotation_interval_days,
    timeWindows: JSON.parse(g.time_windows) as TimeWindow[],
  };
}

export class AccessGroupService {
  constructor(private readonly deps: { store: Store; audit: AuditTrail; clock?: () => number }) {}

  private now(): number {
    return (this.deps.clock ?? Date.now)();
  }

  private async groupView(g: AccessGroupRow): Promise<AccessGroupView> {
    const p = this.deps.store.repos.accessGroups;
    return {
      ...groupOptions(g),
      userIds: await p.members('access_group_users', g.id),
      approverIds: await p.members('access_group_approvers', g.id),
      deviceIds: await p.members('access_group_devices', g.id),
      credentialIds: await p.members('access_group_credentials', g.id),
    };
  }

  async groups(): Promise<AccessGroupView[]> {
    return Promise.all((await this.deps.store.repos.accessGroups.groups()).map((g) => this.groupView(g)));
  }

  /**
   * One page of groups by name (optionally those whose name contains `text`), each with its settings and how
   * many members of each kind it has — the members themselves are on the group's own page — and how many match.
   */
  async pageGroups(page: { text?: string; limit: number; offset: number }): Promise<{ groups: AccessGroupSummary[]; total: number }> {
    const text = page.text?.trim() || undefined;
    const { rows, total } = await this.deps.store.repos.accessGroups.pageGroups({ ...page, ...(text ? { text } : { text: undefined }) });
    return { groups: rows.map((r) => ({ ...groupOptions(r), counts: { users: r.users, approvers: r.approvers, devices: r.devices, credentials: r.credentials } })), total };
  }

  async group(id: number): Promise<AccessGroupView> {
    const g = await this.deps.store.repos.accessGroups.group(id);
    if (!g) throw new NotFoundError('access group');
    return this.groupView(g);
  }

  private async writeGroup(repos: Repositories, id: number | undefined, g: AccessGroupInput): Promise<number> {
    const now = this.now();
    const fields = {
      name: g.name,
      enabled: g.enabled,
      session_allowed: g.sessionAllowed,
      password_view_allowed: g.passwordViewAllowed,
      reason_required: g.reasonRequired,
      approval_required: g.approvalRequired,
      approvals_needed: g.approvalsNeeded,
      allow_port_forwarding: g.allowPortForwarding,
      allow_agent_forwarding: g.allowAgentForwarding,
      rotation_interval_days: g.rotationIntervalDays,
      time_windows: JSON.stringify(g.timeWindows),
      updated_at: now,
    };
    let groupId = id;
    try {
      if (groupId === undefined) groupId = await repos.accessGroups.insertGroup({ ...fields, created_at: now });
      else await repos.accessGroups.updateGroup(groupId, fields);
      await repos.accessGroups.replaceMembers('access_group_users', groupId, g.userIds);
      await repos.accessGroups.replaceMembers('access_group_approvers', groupId, g.approverIds);
      await repos.accessGroups.replaceMembers('access_group_devices', groupId, g.deviceIds);
      await repos.accessGroups.replaceMembers('access_group_credentials', groupId, g.credentialIds);
    } catch (e) {
      if (isUniqueViolation(e, { table: 'access_groups', column: 'name' })) throw new WardenError('CONFLICT', `an access group named ${g.name} exists`);
      if (isStoreConstraint(e, 'foreign-key')) throw new InputError('a member id does not exist (user, device or credential)');
      throw e;
    }
    return groupId;
  }

  async saveGroup(actor: Actor, input: unknown, id?: number): Promise<AccessGroupView> {
    if (id !== undefined) await this.group(id);
    const g = validateGroup(input);
    const groupId = await audited(this.deps.audit, { type: id === undefined ? 'access_group.create' : 'access_group.update', actor, subject: g.name, detail: { users: g.userIds.length, devices: g.deviceIds.length, credentials: g.credentialIds.length, allowPortForwarding: g.allowPortForwarding, allowAgentForwarding: g.allowAgentForwarding } }, (repos) =>
      this.writeGroup(repos, id, g),
    );
    return this.group(groupId);
  }

  /** A group's settings and how many members of each kind it has, without the members (see pageMembers). */
  async summary(id: number): Promise<AccessGroupSummary> {
    const repo = this.deps.store.repos.accessGroups;
    const g = await repo.group(id);
    if (!g) throw new NotFoundError('access group');
    const [users, approvers, devices, credentials] = await Promise.all(MEMBER_KINDS.map((k) => repo.countMembers(MEMBER_TABLE[k], id)));
    return { ...groupOptions(g), counts: { users: users!, approvers: approvers!, devices: devices!, credentials: credentials! } };
  }

  /** One page of a group's members of one kind, by name, optionally filtered by text. */
  async pageMembers(id: number, kind: MemberKind, page: { text?: string; limit: number; offset: number }): Promise<{ members: GroupMember[]; total: number }> {
    if (!(await this.deps.store.repos.accessGroups.group(id))) throw new NotFoundError('access group');
    const text = page.text?.trim() || undefined;
    const { rows, total } = await this.deps.store.repos.accessGroups.pageMembers(MEMBER_TABLE[kind], id, { ...page, ...(text ? { text } : { text: undefined }) });
    return { members: rows, total };
  }

  /**
   * Add one member (a user, an approver, a device or a credential) or remove one, audited in the same
   * transaction. The group page changes one member at a time: the whole-group PUT would have to send every
   * member of a group that may hold thousands. Removing an approver a group's approval still needs is refused.
   */
  async changeMember(actor: Actor, id: number, kind: MemberKind, memberId: number, change: 'add' | 'remove'): Promise<{ changed: boolean }> {
    const table = MEMBER_TABLE[kind];
    // Whether it changed anything is known only inside the transaction; the event is filled in there (the
    // trail records the detail object after this function, in the same transaction).
    const detail: { groupId: number; kind: string; memberId: number; changed?: boolean } = { groupId: id, kind, memberId };
    const changed = await audited(
      this.deps.audit,
      { type: change === 'add' ? 'access_group.member_add' : 'access_group.member_remove', actor, subject: `group:${id}`, detail },
      async (repos) => {
        // Read and checked inside the transaction: the approval rule holds against a concurrent change.
        const g = await repos.accessGroups.group(id);
        if (!g) throw new NotFoundError('access group');
        if (change === 'remove') {
          const removed = await repos.accessGroups.removeMember(table, id, memberId);
          if (removed && kind === 'approvers' && g.approval_required && (await repos.accessGroups.countMembers(table, id)) < g.approvals_needed) {
            throw new InputError('a group that requires approval needs at least approvalsNeeded approvers', { field: 'approverIds' });
          }
          detail.changed = removed;
          return removed;
        }
        try {
          detail.changed = await repos.accessGroups.addMember(table, id, memberId);
        } catch (e) {
          if (isStoreConstraint(e, 'foreign-key')) throw new NotFoundError(kind === 'devices' ? 'device' : kind === 'credentials' ? 'credential' : 'user');
          // Added by a concurrent request between the look and the insert: a member either way.
          if (!isUniqueViolation(e)) throw e;
          detail.changed = false;
        }
        return detail.changed;
      },
    );
    return { changed };
  }

  /**
   * Change a group's settings (name, flags, approval, time windows) and leave its members as they are: the
   * fields given replace the stored ones, the rest stay. Checked as a whole group is (validateGroup), with the
   * approvers counted inside the transaction.
   */
  async updateSettings(actor: Actor, id: number, input: unknown): Promise<AccessGroupSummary> {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InputError('group must be an object');
    const patch = input as Record<string, unknown>;
    for (const k of ['userIds', 'approverIds', 'deviceIds', 'credentialIds']) if (k in patch) throw new InputError(`unknown field ${k}`, { field: k });
    const before = await this.summary(id);
    // Filled in inside the transaction (the trail records it after the change, in the same transaction).
    const detail = { users: before.counts.users, devices: before.counts.devices, credentials: before.counts.credentials, allowPortForwarding: before.allowPortForwarding, allowAgentForwarding: before.allowAgentForwarding };
    const subject = typeof patch.name === 'string' ? patch.name.trim() || before.name : before.name;
    await audited(this.deps.audit, { type: 'access_group.update', actor, subject, detail }, async (repos) => {
      // The patch goes over the row as it is now, inside the transaction: a concurrent change to other
      // fields is kept, and the approver rule is checked against the approvers there are.
      const row = await repos.accessGroups.group(id);
      if (!row) throw new NotFoundError('access group');
      const { id: _id, ...options } = groupOptions(row);
      // Validated as a group without members (so without the approver rule, checked just below).
      const g = validateGroup({ ...options, ...patch, approvalRequired: false });
      const approvalRequired = flag(patch.approvalRequired, 'approvalRequired', row.approval_required);
      if (approvalRequired && (await repos.accessGroups.countMembers('access_group_approvers', id)) < g.approvalsNeeded) {
        throw new InputError('a group that requires approval needs at least approvalsNeeded approvers', { field: 'approverIds' });
      }
      detail.allowPortForwarding = g.allowPortForwarding;
      detail.allowAgentForwarding = g.allowAgentForwarding;
      try {
        await repos.accessGroups.updateGroup(id, {
          name: g.name,
          enabled: g.enabled,
          session_allowed: g.sessionAllowed,
          password_view_allowed: g.passwordViewAllowed,
          reason_required: g.reasonRequired,
          approval_required: approvalRequired,
          approvals_needed: g.approvalsNeeded,
          allow_port_forwarding: g.allowPortForwarding,
          allow_agent_forwarding: g.allowAgentForwarding,
          rotation_interval_days: g.rotationIntervalDays,
          time_windows: JSON.stringify(g.timeWindows),
          updated_at: this.now(),
        });
      } catch (e) {
        if (isUniqueViolation(e, { table: 'access_groups', column: 'name' })) throw new WardenError('CONFLICT', `an access group named ${g.name} exists`);
        throw e;
      }
    });
    return this.summary(id);
  }

  /** A group's command rules, in order, and their mode. */
  async commandRules(groupId: number): Promise<CommandRulesView> {
    const r = await this.deps.store.repos.commandRules.ofGroup(groupId);
    if (!r) throw new NotFoundError('access group');
    return { groupId, mode: r.mode, rules: r.rules };
  }

  /**
   * The command rules' tester: the verdict the terminal proxy would give `command` in a session this group
   * admits — by the group's saved rules, or by a draft (`mode`, `rules`) being edited, checked as a save would
   * check it. The same judgement the proxy makes (commands/judge), not a copy. Changes nothing.
   */
  async testCommand(groupId: number, input: unknown): Promise<{ verdict: CommandVerdict; mode: CommandRuleMode; rules: number }> {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InputError('expected {command, mode?, rules?}');
    const i = input as Record<string, unknown>;
    for (const k of Object.keys(i)) if (!['command', 'mode', 'rules'].includes(k)) throw new InputError(`unknown field ${k}`, { field: k });
    if (typeof i.command !== 'string' || i.command.length > 4 * MAX_MATCH_INPUT) throw new InputError(`command must be text of at most ${4 * MAX_MATCH_INPUT} characters`, { field: 'command' });
    const saved = await this.commandRules(groupId);
    const { mode, rules } = i.rules === undefined && i.mode === undefined ? saved : validateRules(i.rules ?? saved.rules, i.mode ?? saved.mode);
    return { verdict: judge(rules, mode, i.command), mode, rules: rules.length };
  }

  /**
   * Replace a group's command rules and mode, audited in the same transaction. Every pattern is compiled
   * and checked here, at save time, so a rule that cannot work never reaches a session.
   */
  async setCommandRules(actor: Actor, groupId: number, input: unknown): Promise<CommandRulesView> {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InputError('expected {mode, rules}');
    const i = input as Record<string, unknown>;
    for (const k of Object.keys(i)) if (k !== 'mode' && k !== 'rules') throw new InputError(`unknown field ${k}`, { field: k });
    const { mode, rules } = validateRules(i.rules, i.mode ?? 'rules');
    const count = (a: CommandRule['action']) => rules.filter((r) => r.action === a).length;
    await audited(
      this.deps.audit,
      {
        type: 'access_group.command_rules',
        actor,
        subject: `group:${groupId}`,
        detail: { groupId, mode, rules: rules.length, block: count('block'), alert: count('alert'), allow: count('allow') },
      },
      async (repos) => {
        // Checked inside the transaction: a group deleted meanwhile gets no orphan rules.
        if (!(await repos.accessGroups.group(groupId))) throw new NotFoundError('access group');
        await repos.commandRules.replace(groupId, mode, rules);
      },
    );
    return this.commandRules(groupId);
  }
}
