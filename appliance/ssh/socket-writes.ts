// Writes to one of the proxy's sockets within one turn of the event loop leave together, in one writev, at once.
import type net from 'node:net';

/**
 * ssh2 writes each SSH packet to its socket on its own (a 32 KiB packet per write on a bulk transfer, a window
 * adjustment, the next packet): a system call each, and on loopback or a LAN each wakes the peer. Corked until
 * the loop's check phase, the packets of everything read in one poll phase go out in one writev. And since
 * writes are gathered here, Nagle's algorithm has nothing left to gather: it is off, so that a small write (a
 * keystroke, its echo, the last packets of a login) is not held for the ACK of the one before (up to the
 * peer's delayed-ACK timer, 40 ms on Linux), as OpenSSH does for its sessions.
 */
export function coalesceWrites(socket: net.Socket): void {
  socket.setNoDelay(true);
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  const write = socket.write;
  socket.write = function (this: net.Socket, ...args: Parameters<net.Socket['write']>) {
    if (!corked && !socket.destroyed) {
      corked = true;
      socket.cork();
      setImmediate(uncork);
    }
    return write.apply(this, args);
  } as net.Socket['write'];
}
