// A loopback TCP listener that counts the connections it sees, to show that something was (or was never)
// connected to; and a loopback port nothing listens on.
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface Probe {
  port: number;
  connections: number;
  close: () => Promise<void>;
}

/** `answer` is written back in plain text (not TLS), then the connection ends; without it, it is dropped. */
export async function probeListener(answer?: string): Promise<Probe> {
  const probe: Probe = { port: 0, connections: 0, close: async () => {} };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    probe.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (answer) socket.end(answer);
    else socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  probe.port = (server.address() as AddressInfo).port;
  probe.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return probe;
}

export async function closedPort(): Promise<number> {
  const p = await probeListener();
  await p.close();
  return p.port;
}
