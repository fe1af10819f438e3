// orbit settings show|set: the runtime settings from the console, the way back when the web is out of
// reach (an IP denylist that locks the administrators out). Changes go through the SettingsService: the
// same validation as the web API, audited with orbit as the actor.
import type { Command } from 'commander';
import { DEFAULT_SETTINGS, type Settings } from '../../../appliance/settings/index.js';
import { CliError, EXIT_USAGE, cliActor, print, withAppliance } from '../context.js';

type Kind = 'list' | 'int' | 'bool' | 'text';

/** Every settable key in dotted form ("lockout.maxAttempts", "ipDenylist") with the kind of its value. */
function settingKeys(): Map<string, Kind> {
  const kindOf = (v: unknown): Kind => (Array.isArray(v) ? 'list' : typeof v === 'number' ? 'int' : typeof v === 'boolean' ? 'bool' : 'text');
  const keys = new Map<string, Kind>();
  for (const [section, value] of Object.entries(DEFAULT_SETTINGS)) {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [field, v] of Object.entries(value)) keys.set(`${section}.${field}`, kindOf(v));
    } else {
      keys.set(section, kindOf(value));
    }
  }
  return keys;
}

/** The settings as dotted key → value, the same keys `set` takes. */
function flatten(settings: Settings): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [section, value] of Object.entries(settings)) {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [field, v] of Object.entries(value)) out.push([`${section}.${field}`, v]);
    } else {
      out.push([section, value]);
    }
  }
  return out;
}

/** Read VALUE as the key's kind; a value of the wrong shape is a usage error (exit 2). */
export function parseSettingValue(key: string, kind: Kind, text: string): unknown {
  const usage = (why: string) => new CliError(`${key}: ${why}`, EXIT_USAGE);
  switch (kind) {
    case 'int':
      if (!/^-?\d{1,9}$/.test(text.trim())) throw usage(`"${text}" is not an integer`);
      return Number(text.trim());
    case 'bool':
      if (text !== 'true' && text !== 'false') throw usage(`"${text}" is not true or false`);
      return text === 'true';
    case 'list': {
      if (text.trim().startsWith('[')) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          throw usage('not a valid JSON list');
        }
        if (!Array.isArray(parsed) || !parsed.every((v) => typeof v === 'string')) throw usage('the JSON list must hold strings');
        return parsed;
      }
      // The friendly form: comma- or space-separated; an empty string is the empty list.
      return text.split(/[\s,]+/).filter(Boolean);
    }
    case 'text':
      if (text.startsWith('"')) {
        try {
          const parsed: unknown = JSON.parse(text);
          if (typeof parsed === 'string') return parsed;
        } catch {
          // not a JSON string: taken as written
        }
      }
      return text;
  }
}

export function registerSettings(program: Command): void {
  const settings = program.command('settings').description('show or change the runtime settings (password policy, lockout, sessions, IP denylist, ...)');

  settings
    .command('show')
    .description('print the current settings, one "key = value" line each (values in JSON)')
    .argument('[key]', 'print only this setting\'s value (JSON), e.g. ipDenylist')
    .option('--json', 'print all settings as one JSON object')
    .action(async (key: string | undefined, opts, cmd: Command) => {
      if (key !== undefined && !settingKeys().has(key)) throw new CliError(`unknown setting ${key} (see: orbit settings show)`, EXIT_USAGE);
      await withAppliance(
        cmd,
        async (a) => {
          const current = await a.settings.current();
          if (opts.json) return print(JSON.stringify({ settings: current }));
          for (const [k, v] of flatten(current)) {
            if (key === undefined) print(`${k} = ${JSON.stringify(v)}`);
            else if (k === key) print(JSON.stringify(v));
          }
        },
        { withoutKeys: true },
      );
    });

  settings
    .command('set')
    .description('change one setting, with the same validation as the web API; the change is audited')
    .argument('<key>', 'dotted setting name as "orbit settings show" prints it, e.g. ipDenylist or lockout.maxAttempts')
    .argument('<value>', 'integer, true/false, text, or for ipDenylist a comma-separated list or a JSON list ("" or [] clears it)')
    .option('--json', 'print the resulting settings as JSON')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  orbit settings set ipDenylist ""                      # clear the IP denylist',
        '  orbit settings set ipDenylist 198.51.100.0/24,2001:db8:bad::/48',
        '  orbit settings set ipDenylist \'["198.51.100.0/24"]\'',
        '  orbit settings set lockout.maxAttempts 5',
        '  orbit settings set mfa.forceCertificateForAll true',
        '  orbit settings set timeZone Europe/Berlin',
        '',
        'Exit codes: 0 changed, 1 refused by validation (nothing changed), 2 usage (unknown key, value of the wrong type).',
        'The running daemons pick the change up within a second.',
      ].join('\n'),
    )
    .action(async (key: string, value: string, opts, cmd: Command) => {
      const kind = settingKeys().get(key);
      if (!kind) throw new CliError(`unknown setting ${key} (see: orbit settings show)`, EXIT_USAGE);
      const parsed = parseSettingValue(key, kind, value);
      const dot = key.indexOf('.');
      const patch = dot === -1 ? { [key]: parsed } : { [key.slice(0, dot)]: { [key.slice(dot + 1)]: parsed } };
      // With the token: audit events are keyed by it.
      await withAppliance(cmd, async (a) => {
        const after = await a.settings.update(patch, cliActor().username, null);
        if (opts.json) return print(JSON.stringify({ settings: after }));
        const now = flatten(after).find(([k]) => k === key);
        print(`${key} = ${JSON.stringify(now?.[1])}`);
      });
    });
}
