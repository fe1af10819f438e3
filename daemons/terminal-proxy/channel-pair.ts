// Two channels carried into each other (a forwarded TCP connection, an agent channel): how they end together.
import type { ClientChannel, ServerChannel } from 'ssh2';

/** How long one side may take to hand on its last bytes once the other side closed. */
const CLOSE_GRACE_MS = 5_000;

/**
 * The client's channel and the target's, piped into each other (a pipe holds either side whose peer's window
 * is full): one side closing ends the other, which is closed once its last bytes left ('finish' after end),
 * or after a grace if its peer stopped reading. Closing at once would drop bytes still queued for the window.
 * `onClosed` runs once.
 */
export function closeTogether(client: ServerChannel, target: ClientChannel, onClosed: () => void): void {
  let closed = false;
  const closeAfter = (other: ServerChannel | ClientChannel) => {
    if (closed) return;
    closed = true;
    onClosed();
    const hardClose = setTimeout(() => other.close(), CLOSE_GRACE_MS);
    hardClose.unref();
    other.once('finish', () => {
      clearTimeout(hardClose);
      other.close();
    });
    if (!other.writableEnded) other.end();
    else if (other.writableFinished) other.emit('finish');
  };
  client.on('close', () => closeAfter(target));
  target.on('close', () => closeAfter(client));
}
