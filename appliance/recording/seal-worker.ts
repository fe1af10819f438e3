// The recording writers' sealing thread: AES-256-GCM of each chunk and its write, off the event loop that
// carries the sessions (a proxy's loop also runs two ssh2 legs of encryption). One thread for all the
// process's recordings; each recording's chunks arrive in order and are written in order, one vectored write
// per chunk, so a killed process leaves a file that verifies up to its last complete chunk — as before.
// A compressed recording's chunk is deflated here too, just before it is encrypted.
import { parentPort } from 'node:worker_threads';
import { createCipheriv } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { writevSync, writeSync } from 'node:fs';
import { MAX_CHUNK_STORED, TAG_LEN, chunkAad, nonce, type RecordingCompression } from './format.js';

export type SealRequest =
  | { op: 'open'; id: number; fd: number; key: Uint8Array; previous: Uint8Array; compression: RecordingCompression | undefined }
  /** `buf` is transferred here and back: the writer's staging buffers circulate, never copied. */
  | { op: 'chunk'; id: number; buf: ArrayBuffer; length: number }
  | { op: 'forget'; id: number };

export type SealReply =
  /** `bytes`: what reached the file (the frame, compressed or not). */
  | { op: 'done'; id: number; buf: ArrayBuffer; bytes: number }
  | { op: 'error'; id: number; buf: ArrayBuffer; code: string | undefined; message: string };

interface Recording {
  fd: number;
  key: Buffer;
  previous: Buffer;
  seq: number;
  failed: boolean;
  compression: RecordingCompression | undefined;
}

const recordings = new Map<number, Recording>();
const port = parentPort!;

port.on('message', (m: SealRequest) => {
  switch (m.op) {
    case 'open':
      recordings.set(m.id, { fd: m.fd, key: Buffer.from(m.key), previous: Buffer.from(m.previous), seq: 0, failed: false, compression: m.compression });
      m.key.fill(0);
      return;
    case 'forget': {
      recordings.get(m.id)?.key.fill(0);
      recordings.delete(m.id);
      return;
    }
    case 'chunk': {
      const r = recordings.get(m.id);
      if (!r || r.failed) {
        // A recording already failed: nothing more is written after the gap.
        reply({ op: 'done', id: m.id, buf: m.buf, bytes: 0 });
        return;
      }
      try {
        const seq = r.seq++;
        const cipher = createCipheriv('aes-256-gcm', r.key, nonce(seq));
        cipher.setAAD(chunkAad(seq, r.previous));
        const head = Buffer.allocUnsafe(4);
        let plain = Buffer.from(m.buf, 0, m.length);
        if (r.compression === 'deflate-raw') {
          // Level 1: the fastest setting, and most of the gain on RDP frames (bitmaps sent raw); this thread
          // seals every recording of the process, off the relay's event loop, and must keep up with a flood.
          plain = deflateRawSync(plain, { level: 1 });
          if (plain.length > MAX_CHUNK_STORED) throw new RangeError(`a compressed chunk of ${plain.length} bytes is over the format's bound`);
        }
        head.writeUInt32BE(plain.length);
        const body = cipher.update(plain);
        const rest = cipher.final();
        const tag = cipher.getAuthTag();
        r.previous = tag;
        const frameLength = 4 + plain.length + TAG_LEN;
        writeAll(r.fd, rest.length ? [head, body, rest, tag] : [head, body, tag], frameLength);
        reply({ op: 'done', id: m.id, buf: m.buf, bytes: frameLength });
      } catch (e) {
        r.failed = true;
        reply({ op: 'error', id: m.id, buf: m.buf, code: (e as NodeJS.ErrnoException).code, message: (e as Error).message });
      }
      return;
    }
  }
});

function reply(r: SealReply): void {
  port.postMessage(r, [r.buf]);
}

function writeAll(fd: number, parts: Buffer[], length: number): void {
  const written = writevSync(fd, parts);
  if (written >= length) return;
  // A short vectored write (rare on a regular file): the rest goes out as one buffer.
  const all = Buffer.concat(parts);
  for (let off = written; off < length; ) off += writeSync(fd, all, off, length - off);
}
