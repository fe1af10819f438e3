// A real client accepts what the proxy fabricates. xfreerdp (under Xvfb) connects to a loopback server made of
// these builders alone: Connection Confirm choosing TLS, then over TLS the fabricated Connect-Response, Attach
// User Confirm and Channel Join Confirms. The client going on to send its Client Info (step 4 of the design,
// where the person is authenticated) shows the fabricated connection sequence is one it takes.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import * as rdp from '../../../../daemons/rdp-proxy/protocol/index.js';
import { createCa, EKU_SERVER_AUTH, issueLeaf, keyPem } from '../../../helpers/pki.js';

interface Seen {
  request: rdp.ConnectionRequest;
  initial: rdp.ConnectInitial;
  joined: number[];
  info: rdp.ClientInfo;
}

async function startXvfb(): Promise<{ display: string; proc: ChildProcess }> {
  const proc = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '800x600x24', '-nolisten', 'tcp'], { stdio: ['ignore', 'ignore', 'ignore', 'pipe'] });
  const display = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdio[3]!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(`:${out.trim()}`);
    });
    proc.on('exit', (code) => reject(new Error(`Xvfb exited ${code}`)));
  });
  return { display, proc };
}

/** A server that answers a client the way the proxy does until the Client Info, then hangs up. */
function fabricatingServer(key: string, cert: string): Promise<{ port: number; seen: Promise<Seen>; close: () => void }> {
  let resolveSeen!: (s: Seen) => void;
  let rejectSeen!: (e: unknown) => void;
  const seen = new Promise<Seen>((res, rej) => ((resolveSeen = res), (rejectSeen = rej)));
  const server = net.createServer((sock) => {
    sock.on('error', () => {});
    const raw = new rdp.FrameReader();
    const state: Partial<Seen> & { joined: number[] } = { joined: [] };
    const userId = 1008;
    const onRaw = (d: Buffer) => {
      try {
        const [cr] = raw.push(d);
        if (!cr) return;
        sock.off('data', onRaw);
        state.request = rdp.parseConnectionRequest(cr.bytes);
        sock.write(rdp.buildConnectionConfirm(rdp.PROTOCOL_SSL));
        const secure = new tls.TLSSocket(sock, { isServer: true, key, cert });
        secure.on('error', () => {});
        const frames = new rdp.FrameReader();
        secure.on('data', (chunk: Buffer) => {
          try {
            for (const f of frames.push(chunk)) {
              if (f.kind !== 'tpkt') continue;
              if (!state.initial) {
                const ci = (state.initial = rdp.parseConnectInitial(f.bytes));
                const channelIds = ci.channels.map((_, i) => 1004 + i);
                secure.write(rdp.buildConnectResponse({
                  requestedProtocols: ci.core.clientRequestedProtocols ?? rdp.PROTOCOL_SSL,
                  ioChannel: rdp.MCS_GLOBAL_CHANNEL_ID,
                  channelIds,
                  ...(ci.hasMessageChannel ? { messageChannel: 1004 + channelIds.length } : {}),
                }));
                continue;
              }
              const pdu = rdp.parseDomainPdu(f.bytes);
              if (pdu.type === 'attachUserRequest') secure.write(rdp.buildAttachUserConfirm(rdp.RT_SUCCESSFUL, userId));
              else if (pdu.type === 'channelJoinRequest') {
                state.joined.push(pdu.channelId);
                secure.write(rdp.buildChannelJoinConfirm(pdu.initiator, pdu.channelId));
              } else if (pdu.type === 'sendDataRequest' && rdp.isClientInfo(pdu.data)) {
                state.info = rdp.parseClientInfo(pdu.data);
                secure.end(rdp.buildDisconnectProviderUltimatum(rdp.RN_PROVIDER_INITIATED));
                resolveSeen(state as Seen);
              }
            }
          } catch (e) {
            rejectSeen(e);
            secure.destroy();
          }
        });
      } catch (e) {
        rejectSeen(e);
        sock.destroy();
      }
    };
    sock.on('data', onRaw);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as net.AddressInfo).port, seen, close: () => server.close() })),
  );
}

describe('fabricated connection sequence', () => {
  test('xfreerdp takes the fabricated Connect-Response, Attach User and Channel Join confirms and sends its Client Info', { timeout: 30_000 }, async () => {
    const ca = await createCa('RDP test CA');
    const leaf = await issueLeaf(ca, { commonName: 'localhost', eku: [EKU_SERVER_AUTH] });
    const srv = await fabricatingServer(await keyPem(leaf.keys), leaf.pem);
    const x = await startXvfb();
    const home = mkdtempSync(path.join(os.tmpdir(), 'rdp-client-'));
    const client = spawn('xfreerdp', [`/v:127.0.0.1:${srv.port}`, '/u:alice:Administrator@db01', '/p:pw:123456', '/d:CORP', '/sec:tls', '/cert:ignore', '/size:800x600', '+clipboard', '/gfx'], {
      env: { ...process.env, DISPLAY: x.display, HOME: home },
      stdio: 'ignore',
    });
    try {
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no Client Info within 20 s')), 20_000).unref());
      // A client that dislikes what it was sent hangs up before its Client Info.
      const exited = new Promise<never>((_, reject) => client.on('exit', (code) => reject(new Error(`xfreerdp exited (${code}) before its Client Info`))));
      const seen = await Promise.race([srv.seen, timeout, exited]);
      assert.equal(seen.request.cookie, 'alice:Administrator@db01');
      assert.ok(seen.request.requestedProtocols! & rdp.PROTOCOL_SSL);
      assert.equal(seen.initial.core.desktopWidth, 800);
      assert.ok(seen.initial.channels.some((c) => c.name === 'cliprdr'));
      // User channel, I/O channel, message channel (when asked for) and every static channel were joined.
      const expected = [1008, rdp.MCS_GLOBAL_CHANNEL_ID, ...seen.initial.channels.map((_, i) => 1004 + i)];
      if (seen.initial.hasMessageChannel) expected.push(1004 + seen.initial.channels.length);
      assert.deepEqual([...seen.joined].sort(), expected.sort());
      assert.deepEqual([seen.info.domain, seen.info.userName, seen.info.password], ['CORP', 'alice:Administrator@db01', 'pw:123456']);
    } finally {
      client.kill('SIGKILL');
      x.proc.kill('SIGTERM');
      srv.close();
      rmSync(home, { recursive: true, force: true });
    }
  });
});
