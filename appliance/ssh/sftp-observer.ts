// What an SFTP session does to files, read off the proxied subsystem's two streams (draft-ietf-secsh-filexfer-02,
// version 3, the one OpenSSH speaks): opens with their paths, the bytes written and read per handle, closes,
// removals, renames and directories. It only watches: the bytes pass on untouched whatever it makes of them,
// and it keeps at most the first bytes of each packet, so a 256 KiB WRITE costs a counter, not a copy.
// scp (`scp -t` / `scp -f`, the legacy protocol of `scp -O`) is watched by ScpObserver below.

export interface FileOperation {
  op: 'upload' | 'download' | 'remove' | 'rename' | 'mkdir' | 'rmdir';
  path: string;
  /** The new name of a rename. */
  to?: string;
  /** Bytes written (upload) or read (download). */
  bytes?: number;
  /** False when the target refused it (a status other than OK). */
  ok: boolean;
}

const FXP = { OPEN: 3, CLOSE: 4, READ: 5, WRITE: 6, REMOVE: 13, MKDIR: 14, RMDIR: 15, RENAME: 18, EXTENDED: 200, STATUS: 101, HANDLE: 102, DATA: 103 } as const;
const FXF_WRITE = 0x02;
/** The start of a packet kept for parsing: room for a path (PATH_MAX) and a handle. */
const HEAD_MAX = 8 * 1024;
const MAX_TRACKED = 1024;

/** Splits a stream into SFTP packets, handing on each packet's type, its first HEAD_MAX bytes and its length. */
class PacketSplitter {
  private header = Buffer.alloc(5);
  private headerFill = 0;
  private head: Buffer | null = null;
  private headFill = 0;
  private remaining = 0;
  private type = 0;
  private length = 0;

  constructor(private readonly onPacket: (type: number, head: Buffer, length: number) => void) {}

  feed(buf: Buffer): void {
    let i = 0;
    while (i < buf.length) {
      if (this.headerFill < 5) {
        const n = Math.min(5 - this.headerFill, buf.length - i);
        buf.copy(this.header, this.headerFill, i, i + n);
        this.headerFill += n;
        i += n;
        if (this.headerFill < 5) return;
        this.length = this.header.readUInt32BE(0) - 1;
        this.type = this.header[4]!;
        if (this.length < 0) {
          this.headerFill = 0;
          continue;
        }
        this.remaining = this.length;
        this.head = Buffer.allocUnsafe(Math.min(this.length, HEAD_MAX));
        this.headFill = 0;
      }
      const n = Math.min(this.remaining, buf.length - i);
      if (this.headFill < this.head!.length) {
        const k = Math.min(n, this.head!.length - this.headFill);
        buf.copy(this.head!, this.headFill, i, i + k);
        this.headFill += k;
      }
      this.remaining -= n;
      i += n;
      if (this.remaining === 0) this.done();
    }
    if (this.headerFill === 5 && this.remaining === 0) this.done();
  }

  private done(): void {
    const head = this.head!;
    this.headerFill = 0;
    this.head = null;
    this.onPacket(this.type, head, this.length);
  }
}

/** A cursor over a packet's kept bytes; a read past them answers undefined (the packet was cut or is not SFTP). */
class Cursor {
  private at = 0;
  constructor(private readonly buf: Buffer) {}
  u32(): number | undefined {
    if (this.at + 4 > this.buf.length) return undefined;
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  skip(n: number): void {
    this.at += n;
  }
  bytes(): Buffer | undefined {
    const n = this.u32();
    if (n === undefined || this.at + n > this.buf.length) return undefined;
    const b = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return b;
  }
  str(): string | undefined {
    return this.bytes()?.toString('utf8');
  }
}

interface OpenFile {
  path: string;
  write: boolean;
  read: number;
  written: number;
}

/** Bounded map: the oldest entry goes when a client opens without ever closing. */
function remember<K, V>(m: Map<K, V>, k: K, v: V): void {
  if (m.size >= MAX_TRACKED) m.delete(m.keys().next().value as K);
  m.set(k, v);
}

export class SftpObserver {
  private readonly client = new PacketSplitter((t, h, l) => this.request(t, h, l));
  private readonly target = new PacketSplitter((t, h, l) => this.response(t, h, l));
  /** Request id → what it asked, until its answer. */
  private readonly opens = new Map<number, { path: string; write: boolean }>();
  private readonly reads = new Map<number, string>();
  private readonly pending = new Map<number, Omit<FileOperation, 'ok'>>();
  /** Handle (as latin1) → the file it is. */
  private readonly files = new Map<string, OpenFile>();

  constructor(private readonly onOperation: (op: FileOperation) => void) {}

  fromClient(buf: Buffer): void {
    this.client.feed(buf);
  }

  fromTarget(buf: Buffer): void {
    this.target.feed(buf);
  }

  /** The channel ended: files still open are reported with what passed. */
  end(): void {
    for (const f of this.files.values()) this.report(f);
    this.files.clear();
  }

  private report(f: OpenFile): void {
    this.onOperation({ op: f.write ? 'upload' : 'download', path: f.path, bytes: f.write ? f.written : f.read, ok: true });
  }

  private request(type: number, head: Buffer, length: number): void {
    const c = new Cursor(head);
    const id = c.u32();
    if (id === undefined) return;
    switch (type) {
      case FXP.OPEN: {
        const path = c.str();
        const flags = c.u32();
        if (path !== undefined && flags !== undefined) remember(this.opens, id, { path, write: (flags & FXF_WRITE) !== 0 });
        return;
      }
      case FXP.READ: {
        const h = c.bytes();
        if (h) remember(this.reads, id, h.toString('latin1'));
        return;
      }
      case FXP.WRITE: {
        const h = c.bytes();
        if (!h) return;
        c.skip(8);
        const n = c.u32();
        const f = this.files.get(h.toString('latin1'));
        // The data's length field, bounded by what the packet really carried.
        if (f && n !== undefined) f.written += Math.min(n, Math.max(0, length - 4 - 4 - h.length - 8 - 4));
        return;
      }
      case FXP.CLOSE: {
        const h = c.bytes()?.toString('latin1');
        const f = h === undefined ? undefined : this.files.get(h);
        if (f) {
          this.files.delete(h!);
          this.report(f);
        }
        return;
      }
      case FXP.REMOVE:
      case FXP.MKDIR:
      case FXP.RMDIR: {
        const path = c.str();
        if (path !== undefined) remember(this.pending, id, { op: type === FXP.REMOVE ? 'remove' : type === FXP.MKDIR ? 'mkdir' : 'rmdir', path });
        return;
      }
      case FXP.RENAME: {
        const from = c.str();
        const to = c.str();
        if (from !== undefined && to !== undefined) remember(this.pending, id, { op: 'rename', path: from, to });
        return;
      }
      case FXP.EXTENDED: {
        // OpenSSH's sftp renames through its extension when the server offers it.
        if (c.str() !== 'posix-rename@openssh.com') return;
        const from = c.str();
        const to = c.str();
        if (from !== undefined && to !== undefined) remember(this.pending, id, { op: 'rename', path: from, to });
        return;
      }
    }
  }

  private response(type: number, head: Buffer, length: number): void {
    const c = new Cursor(head);
    const id = c.u32();
    if (id === undefined) return;
    if (type === FXP.HANDLE) {
      const open = this.opens.get(id);
      const h = c.bytes();
      this.opens.delete(id);
      if (open && h) remember(this.files, h.toString('latin1'), { ...open, read: 0, written: 0 });
    } else if (type === FXP.DATA) {
      const h = this.reads.get(id);
      this.reads.delete(id);
      const f = h === undefined ? undefined : this.files.get(h);
      const n = c.u32();
      if (f && n !== undefined) f.read += Math.min(n, Math.max(0, length - 8));
    } else if (type === FXP.STATUS) {
      this.reads.delete(id);
      const code = c.u32();
      const open = this.opens.get(id);
      if (open) {
        this.opens.delete(id);
        this.onOperation({ op: open.write ? 'upload' : 'download', path: open.path, bytes: 0, ok: false });
      }
      const op = this.pending.get(id);
      if (op) {
        this.pending.delete(id);
        this.onOperation({ ...op, ok: code === 0 });
      }
    }
  }
}

/**
 * `scp -t PATH` (the client uploads) or `scp -f PATH` (it downloads), as the legacy scp protocol runs it: the
 * exec'd command says which way and where; the sender's headers (`C0644 SIZE NAME`, `D0755 0 DIR`, `E`) say
 * what files and how large. Returns null for a command that is not an scp sink or source.
 */
export class ScpObserver {
  private line: number[] = [];
  private state: 'line' | 'data' | 'ack' = 'line';
  private remaining = 0;
  private current: { path: string; bytes: number } | null = null;
  private readonly dirs: string[] = [];

  private constructor(
    readonly direction: 'upload' | 'download',
    readonly path: string,
    private readonly recursive: boolean,
    private readonly onOperation: (op: FileOperation) => void,
  ) {}

  static forCommand(command: string, onOperation: (op: FileOperation) => void): ScpObserver | null {
    const words = command.trim().split(/\s+/);
    if (words[0] !== 'scp') return null;
    let dir: 'upload' | 'download' | null = null;
    let recursive = false;
    let i = 1;
    for (; i < words.length; i++) {
      const w = words[i]!;
      if (w === '--') {
        i++;
        break;
      }
      if (!w.startsWith('-')) break;
      if (w.includes('t')) dir = 'upload';
      if (w.includes('f')) dir = 'download';
      if (w.includes('r')) recursive = true;
    }
    if (!dir) return null;
    return new ScpObserver(dir, words.slice(i).join(' ') || '.', recursive, onOperation);
  }

  /** The sender's stream: the client's for an upload, the target's for a download. */
  fromSender(buf: Buffer): void {
    let i = 0;
    while (i < buf.length) {
      if (this.state === 'data') {
        const n = Math.min(this.remaining, buf.length - i);
        this.remaining -= n;
        i += n;
        if (this.remaining === 0) this.state = 'ack';
        continue;
      }
      if (this.state === 'ack') {
        // The sender's "\0" after a file's data: that file is through.
        i++;
        this.state = 'line';
        if (this.current) this.onOperation({ op: this.direction, path: this.current.path, bytes: this.current.bytes, ok: true });
        this.current = null;
        continue;
      }
      const b = buf[i++]!;
      if (b !== 0x0a) {
        if (this.line.length < 8192) this.line.push(b);
        continue;
      }
      this.header(Buffer.from(this.line).toString('utf8'));
      this.line = [];
    }
  }

  private header(h: string): void {
    const m = /^([CD])[0-7]{4} (\d+) (.+)$/.exec(h);
    if (m) {
      const name = m[3]!;
      // A single file goes to (or comes from) the named path itself; a tree's files lie under it.
      const base = this.recursive ? [this.path, ...this.dirs, name].join('/') : this.path;
      if (m[1] === 'D') {
        this.dirs.push(name);
        return;
      }
      this.current = { path: base, bytes: Number(m[2]) };
      this.remaining = Number(m[2]);
      this.state = this.remaining > 0 ? 'data' : 'ack';
      return;
    }
    if (h === 'E') this.dirs.pop();
  }
}
