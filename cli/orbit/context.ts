// What every orbit command shares: where the config and state are, opening the appliance, printing,
// and the exit codes (0 ok, 1 failure, 2 usage).
import path from 'node:path';
import { userInfo } from 'node:os';
import { Command } from 'commander';
import { Appliance, type ApplianceOptions } from '../../appliance/index.js';
import { configPath, homePath, loadConfig } from '../../appliance/config/index.js';
import { isWardenError } from '../../appliance/errors/index.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A failure orbit reports in one plain line and exits 1 (or 2 for usage). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
  }
}

export interface GlobalOptions {
  home?: string;
  config?: string;
}

/** The environment a command sees after --home/--config are applied. */
export function environment(cmd: Command): NodeJS.ProcessEnv {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const env = { ...process.env };
  if (g.home) env.WARDEN_HOME = path.resolve(g.home);
  if (g.config) env.WARDEN_CONFIG = path.resolve(g.config);
  return env;
}

export function locations(cmd: Command): { home: string; configFile: string } {
  const env = environment(cmd);
  return { home: homePath(env), configFile: configPath(env) };
}

export async function withAppliance<T>(cmd: Command, fn: (a: Appliance) => Promise<T>, options?: ApplianceOptions): Promise<T> {
  const appliance = await Appliance.open(loadConfig(environment(cmd)), options);
  try {
    return await fn(appliance);
  } finally {
    await appliance.close();
  }
}

export function cliActor(): { username: string; ip: null } {
  let who = 'root';
  try {
    who = userInfo().username;
  } catch {
    // no passwd entry (containers): keep the default
  }
  return { username: `orbit:${who}`.slice(0, 64), ip: null };
}

export function describeError(e: unknown): string {
  if (e instanceof CliError) return e.message;
  if (isWardenError(e)) return `${e.message} [${e.code}]`;
  return (e as Error)?.message ?? String(e);
}

export function print(line = ''): void {
  process.stdout.write(line + '\n');
}

export function printTable(rows: Record<string, unknown>[], columns: string[]): void {
  const cells = rows.map((r) => columns.map((c) => String(r[c] ?? '')));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  print(columns.map((c, i) => c.toUpperCase().padEnd(widths[i]!)).join('  '));
  for (const row of cells) print(row.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd());
}

export function interactive(): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY) && !process.env.CI;
}
