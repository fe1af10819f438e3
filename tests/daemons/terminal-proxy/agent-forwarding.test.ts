// The forwarded agent is the user's, never the proxy's: its keys and signatures are refused to the proxy, and the
// upstream connection (which holds it when a session allows agent forwarding) never offers it to the target to
// log in — not even after the vaulted key was refused, where ssh2's default order would try the agent next.
// Against a real sshd that authorizes no key at all.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ProxySession } from '../../../appliance/sessions/index.js';
import { ForwardedAgent } from '../../../daemons/terminal-proxy/agent-forwarding.js';
import { connectUpstream, UpstreamError } from '../../../appliance/ssh/index.js';
import { startSshd, type Sshd } from '../../helpers/sshd.js';

describe('terminal proxy: the forwarded agent is never the proxy’s', () => {
  let dir: string;
  let sshd: Sshd;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'warden-agent-unit-'));
    sshd = await startSshd(path.join(dir, 'sshd'));
  });
  after(async () => {
    await sshd?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('asked for keys or a signature, it refuses', async () => {
    const agent = new ForwardedAgent(() => assert.fail('no channel may be opened'));
    const keys = await new Promise<unknown>((resolve) => agent.getIdentities((err, k) => resolve(err ?? k)));
    assert.match(String(keys), /never uses a forwarded agent/);
    const sig = await new Promise<unknown>((resolve) => agent.sign(Buffer.alloc(0), Buffer.from('x'), (err, s) => resolve(err ?? s)));
    assert.match(String(sig), /never uses a forwarded agent/);
  });

  test('a vaulted key the target refuses is not followed by the agent: the session fails as target-auth-failed', async () => {
    const keyFile = path.join(dir, 'vaulted');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    let asked = 0;
    class Spy extends ForwardedAgent {
      override getIdentities(cb: Parameters<ForwardedAgent['getIdentities']>[0]): void {
        asked++;
        super.getIdentities(cb);
      }
    }
    const session = {
      target: { deviceId: 1, hostname: 't', address: '127.0.0.1', port: sshd.port, credentialId: 1, username: 'root', domain: '', secretKind: 'ssh-key' },
      secret: readFileSync(keyFile),
      checkHostKey: async () => 'match' as const,
    } as unknown as ProxySession;
    await assert.rejects(
      connectUpstream(session, { readyTimeoutMs: 10_000, agent: new Spy(() => assert.fail('no channel may be opened')) }),
      (e: unknown) => e instanceof UpstreamError && e.reason === 'target-auth-failed',
    );
    assert.equal(asked, 0, 'the agent was asked for keys to log in with');
  });
});
