// What the OS-settings commands (network, dns, hostname, ntp, timezone, cert, services, firewall) share:
// the target (--root DIR writes under DIR and reloads nothing; without it, the running appliance), where
// the appliance's config is, and the audit of a change once the appliance is initialized.
import path from 'node:path';
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { Appliance } from '../../appliance/index.js';
import { buildConfig, configPath, homePath, loadConfig, type WardenConfig } from '../../appliance/config/index.js';
import type { AuditEvent, AuditEventType } from '../../appliance/audit/index.js';
import { systemTarget, type ApplyWith, type SystemTarget } from '../../appliance/system/index.js';
import { cliActor, environment, type GlobalOptions } from './context.js';

export const AUDIT_NOTE = 'Once the appliance is initialized (orbit init), the change is audited with orbit as the actor; before that there is no audit trail yet and nothing is recorded.';

export function target(cmd: Command): SystemTarget {
  return systemTarget({ root: cmd.optsWithGlobals<GlobalOptions & { root?: string }>().root });
}

/**
 * The environment locating the appliance's config: --home/--config/$WARDEN_* as for every command; with
 * --root and none of those, the image's own places under the root (ROOT/etc/warden/warden.json,
 * ROOT/var/lib/warden), so `--root` never reaches into this machine's appliance.
 */
export function systemEnvironment(cmd: Command): NodeJS.ProcessEnv {
  const g = cmd.optsWithGlobals<GlobalOptions & { root?: string }>();
  const env = environment(cmd);
  if (g.root && !g.home && !g.config && !process.env.WARDEN_HOME && !process.env.WARDEN_CONFIG) {
    env.WARDEN_HOME = path.join(path.resolve(g.root), 'var/lib/warden');
    env.WARDEN_CONFIG = path.join(path.resolve(g.root), 'etc/warden/warden.json');
  }
  return env;
}

export function initialized(cmd: Command): boolean {
  return existsSync(configPath(systemEnvironment(cmd)));
}

/** The config if initialized, else the defaults under the state directory (where init would put things). */
export function configOrDefaults(cmd: Command): WardenConfig {
  const env = systemEnvironment(cmd);
  return initialized(cmd) ? loadConfig(env) : buildConfig({}, homePath(env));
}

/** The event's common members; `detail` and `subject` come from the command. */
export function consoleEvent<K extends AuditEventType>(event: Omit<AuditEvent<K>, 'outcome' | 'actor' | 'actorIp'>): AuditEvent<K> {
  return { ...event, outcome: 'success', actor: cliActor().username, actorIp: null } as AuditEvent<K>;
}

/**
 * Run `change` with its writes inside the audit transaction recording it (both land, or neither) when the
 * appliance is initialized; plainly before that. `change` gets the wrapper to pass to appliance/system.
 */
export async function auditedChange<T, K extends AuditEventType>(cmd: Command, event: () => AuditEvent<K>, change: (applyWith: ApplyWith | undefined) => Promise<T>): Promise<T> {
  if (!initialized(cmd)) return change(undefined);
  const appliance = await Appliance.open(loadConfig(systemEnvironment(cmd)));
  try {
    return await change((write) => appliance.audit.withChange(event(), () => write()));
  } finally {
    await appliance.close();
  }
}

/** Record an event on its own (a change that is not a write of ours, e.g. a restart), if initialized. */
export async function auditAfter<K extends AuditEventType>(cmd: Command, event: AuditEvent<K>): Promise<void> {
  if (!initialized(cmd)) return;
  const appliance = await Appliance.open(loadConfig(systemEnvironment(cmd)));
  try {
    await appliance.audit.record(event);
  } finally {
    await appliance.close();
  }
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
