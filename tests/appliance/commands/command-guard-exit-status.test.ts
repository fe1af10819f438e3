// The CommandGuard in front of a real bash in a pty, hearing the exit statuses bash reports through the
// shell-integration marks its PROMPT_COMMAND prints: each command gets its own status; an empty line, a
// blocked line and a line read by a running program get none; a bash without the marks gives none at all.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { CommandGuard, type CommandRule, type GuardedCommand } from '../../../appliance/commands/index.js';
import { PtyBash } from '../../helpers/pty-bash.js';

/** The bash snippet the README gives administrators (plus the helper's own `history -a`). */
const MARKS = `printf '\\033]133;D;%s\\007\\033]133;A\\007' "$?"; history -a`;

class Session {
  readonly statuses: [string, number][] = [];
  readonly commands: GuardedCommand[] = [];
  readonly guard: CommandGuard;
  constructor(
    readonly bash: PtyBash,
    rules: CommandRule[] = [],
  ) {
    this.guard = new CommandGuard({
      rules,
      mode: 'rules',
      onCommand: (c) => this.commands.push(c),
      onExitStatus: (c, status) => {
        assert.ok(this.commands.includes(c), 'the status comes for a command reported before');
        this.statuses.push([c.command, status]);
      },
      onRelease: (r) => this.bash.write(r.toTarget),
    });
    bash.onOutput((b) => this.guard.fromTarget(b));
  }
  async type(...chunks: string[]): Promise<void> {
    for (const chunk of chunks) {
      const r = this.guard.fromClient(Buffer.from(chunk, 'latin1'));
      if (r.forward.length > 0) this.bash.write(r.forward);
      await this.bash.settle(80);
    }
  }
}

describe('CommandGuard: exit statuses from the shell-integration marks of a real bash', () => {
  test('true, false and (exit 7) get 0, 1 and 7; an empty line, a blocked line and a line read by cat get none; `exit 3` gets 3', async () => {
    const bash = new PtyBash({ promptCommand: MARKS });
    const s = new Session(bash, [{ pattern: '^rm\\s+-rf', action: 'block' }]);
    try {
      await bash.waitFor(/W\$ /);
      await bash.settle();
      await s.type('true', '\r', 'false', '\r', '(exit 7)', '\r');
      assert.deepEqual(s.statuses, [['true', 0], ['false', 1], ['(exit 7)', 7]]);
      await s.type('\r', 'rm -rf /nonexistent/x', '\r');
      await s.type('cat', '\r', 'read-by-cat', '\r', '\x04');
      await s.type('sh -c "exit 5"', '\r');
      assert.deepEqual(s.statuses.slice(3), [['cat', 0], ['sh -c "exit 5"', 5]]);
      assert.deepEqual(
        s.commands.map((c) => c.command),
        ['true', 'false', '(exit 7)', 'rm -rf /nonexistent/x', 'cat', 'read-by-cat', 'sh -c "exit 5"'],
      );
      await s.type('exit 3', '\r');
      await bash.ended;
      assert.equal(bash.exitCode, 3);
      s.guard.close(bash.exitCode);
      assert.deepEqual(s.statuses.slice(5), [['exit 3', 3]]);
    } finally {
      s.guard.close();
      await bash.close();
    }
  });

  test('a bash without the marks: every command stays without a status', async () => {
    const bash = new PtyBash();
    const s = new Session(bash);
    try {
      await bash.waitFor(/W\$ /);
      await bash.settle();
      await s.type('true', '\r', 'false', '\r', '(exit 7)', '\r', 'exit', '\r');
      await bash.ended;
      s.guard.close(bash.exitCode);
      assert.deepEqual(s.commands.map((c) => c.command), ['true', 'false', '(exit 7)', 'exit']);
      assert.deepEqual(s.statuses, []);
    } finally {
      s.guard.close();
      await bash.close();
    }
  });
});
