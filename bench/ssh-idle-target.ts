// A stand-in SSH target for bench/terminal-proxy-idle.ts: thousands of sshd sessions would cost this 2-core
// machine thousands of processes, so an ssh2 server in its own process plays the target (the issue allows it).
// Password authentication for one user, a PTY and a shell that prints a prompt and echoes what it is sent.
// Prints "ssh-idle-target ready: PORT" once listening; env IDLE_TARGET_USER, IDLE_TARGET_PASSWORD.
import { timingSafeEqual } from 'node:crypto';
import ssh2 from 'ssh2';
import { newHostKeyPair } from '../daemons/terminal-proxy/host-key.js';

const user = Buffer.from(process.env.IDLE_TARGET_USER ?? '');
const password = Buffer.from(process.env.IDLE_TARGET_PASSWORD ?? '');
if (user.length === 0 || password.length === 0) throw new Error('IDLE_TARGET_USER and IDLE_TARGET_PASSWORD are required');
const same = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

const hostKey = newHostKeyPair('warden bench target').private;
// sshd pings nobody by default (ClientAliveInterval 0); an ssh2 server pings every client every 15 s, which
// would bill the proxy for replies a real target never asks for.
ssh2.Server.KEEPALIVE_CLIENT_INTERVAL = 0;
const server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
  client.on('error', () => {});
  client.on('authentication', (ctx) => {
    if (ctx.method === 'password' && same(Buffer.from(ctx.username), user) && same(Buffer.from(ctx.password), password)) return ctx.accept();
    ctx.reject(['password']);
  });
  client.on('ready', () => {
    client.on('session', (accept) => {
      const session = accept();
      session.on('pty', (ok) => ok?.());
      session.on('window-change', (ok) => ok?.());
      session.on('shell', (ok) => {
        const shell = ok();
        shell.on('error', () => {});
        shell.write('$ ');
        shell.on('data', (d: Buffer) => shell.write(d));
      });
    });
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`ssh-idle-target ready: ${(server.address() as { port: number }).port}\n`);
});
