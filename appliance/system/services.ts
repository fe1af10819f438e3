// The warden units as systemd runs them: their state, and a restart. Only on the running appliance.
import { WardenError, InputError } from '../errors/index.js';
import { runTool, type SystemTarget } from './target.js';

export const WARDEN_UNITS = {
  web: 'warden-web.service',
  'terminal-proxy': 'warden-terminal-proxy.service',
  'rdp-proxy': 'warden-rdp-proxy.service',
} as const;
export type WardenServiceName = keyof typeof WARDEN_UNITS;
export const WARDEN_SERVICE_NAMES = Object.keys(WARDEN_UNITS) as WardenServiceName[];

export interface ServiceStatus {
  name: WardenServiceName;
  unit: string;
  /** systemd's ActiveState: active, inactive, failed, activating, ... */
  active: string;
  sub: string;
  pid: number | null;
  /** The daemon's own STATUS= line. */
  status: string;
  since: string | null;
  restarts: number;
}

/** 'web' | 'terminal-proxy' | 'rdp-proxy' | 'all' → the names; anything else is refused with the list. */
export function serviceNames(name: string | undefined): WardenServiceName[] {
  if (name === undefined || name === 'all') return [...WARDEN_SERVICE_NAMES];
  if ((WARDEN_SERVICE_NAMES as string[]).includes(name)) return [name as WardenServiceName];
  throw new InputError(`unknown service "${name}": one of ${WARDEN_SERVICE_NAMES.join(', ')}, all`, { field: 'service' });
}

function requireLive(t: SystemTarget): void {
  if (!t.live) throw new InputError('services are those of the running appliance: --root does not apply to them', { field: 'root' });
}

/** systemctl's failure, said plainly when the reason is that systemd is not running here at all. */
async function systemctl(args: string[]): Promise<string> {
  try {
    return await runTool('systemctl', args);
  } catch (e) {
    const said = (e as Error).message;
    if (/not been booted with systemd|Failed to connect to bus|Host is down|spawn systemctl ENOENT/i.test(said)) {
      throw new WardenError('INTERNAL', `systemd is not running on this machine (it is not PID 1), so the warden services cannot be managed here; on the appliance it is (systemctl said: ${said.replace(/^systemctl [^:]*failed: /, '')})`, { cause: e });
    }
    throw e;
  }
}

export async function serviceStatus(t: SystemTarget, names: WardenServiceName[] = [...WARDEN_SERVICE_NAMES]): Promise<ServiceStatus[]> {
  requireLive(t);
  const units = names.map((n) => WARDEN_UNITS[n]);
  const out = await systemctl(['show', '--no-pager', '-p', 'Id,ActiveState,SubState,MainPID,StatusText,NRestarts,ActiveEnterTimestamp', ...units]);
  const blocks = out.split(/\n\s*\n/).filter((b) => b.trim() !== '');
  return blocks.map((block, i) => {
    const p = new Map<string, string>();
    for (const line of block.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) p.set(line.slice(0, eq), line.slice(eq + 1));
    }
    const unit = p.get('Id') ?? units[i]!;
    const name = names[units.indexOf(unit as (typeof units)[number])] ?? names[i]!;
    const pid = Number(p.get('MainPID') ?? 0);
    return {
      name,
      unit,
      active: p.get('ActiveState') ?? 'unknown',
      sub: p.get('SubState') ?? 'unknown',
      pid: pid > 0 ? pid : null,
      status: p.get('StatusText') ?? '',
      since: p.get('ActiveEnterTimestamp') || null,
      restarts: Number(p.get('NRestarts') ?? 0),
    };
  });
}

export async function restartServices(t: SystemTarget, names: WardenServiceName[]): Promise<void> {
  requireLive(t);
  await systemctl(['restart', ...names.map((n) => WARDEN_UNITS[n])]);
}
