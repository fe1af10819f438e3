// The shapes the access-group pages read from the API (the server's AccessGroupSummary, GroupMember,
// CommandRulesView and the tester's verdict), as JSON.
import type { TimeWindow } from './time-grid.js';

export interface GroupSettings {
  name: string;
  enabled: boolean;
  sessionAllowed: boolean;
  passwordViewAllowed: boolean;
  reasonRequired: boolean;
  approvalRequired: boolean;
  approvalsNeeded: number;
  allowPortForwarding: boolean;
  allowAgentForwarding: boolean;
  timeWindows: TimeWindow[];
}

export interface GroupSummary extends GroupSettings {
  id: number;
  counts: { users: number; approvers: number; devices: number; credentials: number };
}

export type MemberKind = 'users' | 'approvers' | 'devices' | 'credentials';

export interface GroupMember {
  id: number;
  name: string;
  detail: string;
}

export type CommandAction = 'allow' | 'alert' | 'block';
export type CommandMode = 'rules' | 'allow-list';

export interface CommandRule {
  pattern: string;
  action: CommandAction;
}

export interface CommandRules {
  groupId: number;
  mode: CommandMode;
  rules: CommandRule[];
}

export interface CommandTest {
  verdict: { action: CommandAction; rule: (CommandRule & { position: number }) | null; part: string };
  mode: CommandMode;
  rules: number;
}
