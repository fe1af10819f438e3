// The Argon2id cost flags shared by `orbit init` and `orbit backup restore`: written to auth.argon2 in the
// config; the defaults (OWASP's m=19 MiB, t=2, p=1) stand unless a flag is given.
import type { Command } from 'commander';
import { ARGON2_BOUNDS, DEFAULT_ARGON2, type Argon2Cost } from '../../appliance/config/index.js';
import { CliError, EXIT_USAGE } from './context.js';

const FLAGS = { memoryKiB: '--argon2-memory', iterations: '--argon2-iterations', parallelism: '--argon2-parallelism' } as const;

export function addHashCostOptions(cmd: Command): Command {
  return cmd
    .option(`${FLAGS.memoryKiB} <KiB>`, `Argon2id memory per password hash, KiB (default ${DEFAULT_ARGON2.memoryKiB})`)
    .option(`${FLAGS.iterations} <n>`, `Argon2id passes per password hash (default ${DEFAULT_ARGON2.iterations})`)
    .option(`${FLAGS.parallelism} <n>`, `Argon2id lanes per password hash (default ${DEFAULT_ARGON2.parallelism})`);
}

/** The cost the flags ask for, or undefined when none is given (the config default then applies). */
export function hashCostFromOptions(opts: { argon2Memory?: string; argon2Iterations?: string; argon2Parallelism?: string }): Argon2Cost | undefined {
  const given = { memoryKiB: opts.argon2Memory, iterations: opts.argon2Iterations, parallelism: opts.argon2Parallelism };
  if (Object.values(given).every((v) => v === undefined)) return undefined;
  const value = (k: keyof Argon2Cost): number => {
    if (given[k] === undefined) return DEFAULT_ARGON2[k];
    const n = Number(given[k]);
    const [min, max] = ARGON2_BOUNDS[k];
    if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`${FLAGS[k]} must be an integer in [${min}, ${max}]`, EXIT_USAGE);
    return n;
  };
  const cost = { memoryKiB: value('memoryKiB'), iterations: value('iterations'), parallelism: value('parallelism') };
  if (cost.memoryKiB < 8 * cost.parallelism) throw new CliError(`${FLAGS.memoryKiB} must be at least 8 × ${FLAGS.parallelism}`, EXIT_USAGE);
  return cost;
}
