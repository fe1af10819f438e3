// An RDP recording played back onto a framebuffer: the target's frames (the Output records) split, parsed
// and drawn in order, with snapshots of the desktop at a fixed interval or at each change. A frame the
// parser or a decoder refuses is counted and skipped: one bad rectangle does not end the film.
import type { Recording } from './reader.js';
import { RdpFramebuffer, encodePng } from './rdp-framebuffer.js';
import { RdpFrameSplitter, RdpUpdateParser, desktopSizeOk, type RdpUpdate } from './rdp-update.js';
import { RdpGraphicsError, decodeBitmap, defaultPalette, pixelsToRgbaInto, type Palette } from './rdp-bitmap.js';
import { InputError, WardenError } from '../errors/index.js';

export interface RdpRenderStats {
  /** Whole frames read from the target's stream. */
  frames: number;
  /** Bitmap rectangles drawn. */
  rects: number;
  /** Drawing orders applied (cache, MemBlt, fills, copies, lines, surfaces). */
  orders: number;
  /** Frames or rectangles refused as malformed or undecodable, by reason (the first few reasons kept). */
  skipped: number;
  problems: string[];
  /** Updates passed over by design (orders, pointers, ...), by kind. */
  ignored: Record<string, number>;
}

/** What the bitmap cache and the offscreen surfaces may hold, each, before the oldest entries go. */
const CACHE_BUDGET = 256 * 1024 * 1024;

interface Picture {
  width: number;
  height: number;
  rgba: Uint8Array;
}

/** Feeds the target's bytes to a framebuffer. Never throws on what the target sent. */
export class RdpRenderer {
  readonly framebuffer: RdpFramebuffer;
  private readonly splitter = new RdpFrameSplitter();
  private readonly parser = new RdpUpdateParser();
  private palette: Palette = defaultPalette();
  /** The session's colour depth (the Demand Active's), in which orders give their colours. */
  private bpp = 32;
  /** The bitmap cache, by "cacheId:cacheIndex", oldest first. */
  private readonly cache = new Map<string, Picture>();
  private cacheBytes = 0;
  private readonly offscreen = new Map<number, RdpFramebuffer>();
  private offscreenBytes = 0;
  /** Where orders draw: the screen, or an offscreen surface. */
  private target: RdpFramebuffer;
  private readonly counts = { frames: 0, rects: 0, orders: 0, skipped: 0 };
  private readonly problems: string[] = [];

  constructor(width: number, height: number) {
    if (!desktopSizeOk(width, height)) throw new RdpGraphicsError(`a desktop of ${width}×${height}`);
    this.framebuffer = new RdpFramebuffer(width, height);
    this.target = this.framebuffer;
  }

  get stats(): RdpRenderStats {
    const ignored = Object.fromEntries(this.parser.ignored);
    if (this.splitter.dropped) ignored['bytes of frames cut short'] = this.splitter.dropped;
    return { ...this.counts, problems: [...this.problems], ignored };
  }

  private skip(e: unknown): void {
    if (!(e instanceof RdpGraphicsError)) throw e;
    this.counts.skipped++;
    if (this.problems.length < 20) this.problems.push(e.message);
  }

  /** One Output record (or any piece of the stream); returns whether the picture changed. */
  feed(data: Uint8Array): boolean {
    let frames: Buffer[];
    try {
      frames = this.splitter.push(data);
    } catch (e) {
      this.skip(e);
      return false;
    }
    let changed = false;
    for (const frame of frames) {
      this.counts.frames++;
      let updates: RdpUpdate[];
      try {
        updates = this.parser.parse(frame);
      } catch (e) {
        this.skip(e);
        continue;
      }
      for (const problem of this.parser.takeProblems()) this.skip(new RdpGraphicsError(problem));
      for (const u of updates) {
        try {
          if (this.apply(u)) changed = true;
          if (u.kind !== 'bitmap' && u.kind !== 'palette' && u.kind !== 'desktop') this.counts.orders++;
        } catch (e) {
          this.skip(e);
        }
      }
    }
    return changed;
  }

  /** An order's colour value in the session's depth, as RGB (byte 0 is red at 24 and 32 bpp). */
  private orderColor(v: number): [number, number, number] {
    const px = new Uint8Array(4);
    if (this.bpp === 8 || this.bpp === 15 || this.bpp === 16) {
      pixelsToRgbaInto(px, v & (this.bpp === 8 ? 0xff : 0xffff), this.bpp, this.palette);
      return [px[0]!, px[1]!, px[2]!];
    }
    return [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff];
  }

  /** Whether drawing on the current target shows (the screen) or not yet (an offscreen surface). */
  private drew(wrote: boolean): boolean {
    return wrote && this.target === this.framebuffer;
  }

  private remember(key: string, p: Picture): void {
    const old = this.cache.get(key);
    if (old) {
      this.cacheBytes -= old.rgba.length;
      this.cache.delete(key);
    }
    this.cache.set(key, p);
    this.cacheBytes += p.rgba.length;
    for (const [k, v] of this.cache) {
      if (this.cacheBytes <= CACHE_BUDGET) break;
      this.cache.delete(k);
      this.cacheBytes -= v.rgba.length;
    }
  }

  private apply(u: RdpUpdate): boolean {
    switch (u.kind) {
      case 'palette':
        this.palette = u.colors;
        return false;
      case 'desktop':
        this.bpp = u.bpp;
        this.target = this.framebuffer;
        if (u.width === this.framebuffer.width && u.height === this.framebuffer.height) return false;
        this.framebuffer.resize(u.width, u.height);
        return true;
      case 'cache': {
        const rgba = decodeBitmap(u.bitmap, this.palette);
        this.remember(`${u.cacheId}:${u.cacheIndex}`, { width: u.bitmap.width, height: u.bitmap.height, rgba });
        return false;
      }
      case 'memblt': {
        const src: Picture | undefined = u.cacheId === 0xff ? this.offscreen.get(u.cacheIndex) : this.cache.get(`${u.cacheId}:${u.cacheIndex}`);
        if (!src) throw new RdpGraphicsError(`MemBlt from bitmap ${u.cacheId}:${u.cacheIndex}, never cached`);
        return this.drew(this.target.draw(src.rgba, src.width, src.height, u.srcX, u.srcY, u.x, u.y, u.width, u.height, u.clip));
      }
      case 'fill':
        return this.drew(this.target.fill(u.x, u.y, u.width, u.height, this.orderColor(u.color), u.rop, u.clip));
      case 'scrblt':
        return this.drew(this.target.copyWithin(u.srcX, u.srcY, u.x, u.y, u.width, u.height, u.clip));
      case 'line':
        return this.drew(this.target.line(u.x1, u.y1, u.x2, u.y2, this.orderColor(u.color), u.clip));
      case 'offscreen': {
        for (const id of u.deleted) this.dropOffscreen(id);
        this.dropOffscreen(u.id);
        if (!desktopSizeOk(u.width, u.height) || this.offscreenBytes + u.width * u.height * 4 > CACHE_BUDGET) throw new RdpGraphicsError(`an offscreen surface of ${u.width}×${u.height}`);
        this.offscreen.set(u.id, new RdpFramebuffer(u.width, u.height));
        this.offscreenBytes += u.width * u.height * 4;
        return false;
      }
      case 'target': {
        const surface = u.id === 0xffff ? this.framebuffer : this.offscreen.get(u.id);
        if (!surface) throw new RdpGraphicsError(`drawing switched to surface ${u.id}, never created`);
        this.target = surface;
        return false;
      }
      case 'bitmap': {
        // Bitmap updates always go to the screen, whatever surface orders draw on.
        let changed = false;
        for (const r of u.rects) {
          try {
            const rgba = decodeBitmap(r, this.palette);
            if (this.framebuffer.blit(r.left, r.top, r.right - r.left + 1, r.bottom - r.top + 1, rgba, r.width)) changed = true;
            this.counts.rects++;
          } catch (e) {
            this.skip(e);
          }
        }
        return changed;
      }
    }
  }

  private dropOffscreen(id: number): void {
    const s = this.offscreen.get(id);
    if (!s) return;
    if (this.target === s) this.target = this.framebuffer;
    this.offscreenBytes -= s.rgba.length;
    this.offscreen.delete(id);
  }
}

export interface RdpFrame {
  /** Milliseconds after the recording's start. */
  atMs: number;
  width: number;
  height: number;
  /** A copy of the desktop's pixels, RGBA. */
  rgba: Buffer;
  /** The same as PNG, when asked for. */
  png?: Buffer;
  /** Whether the picture changed since the frame before. */
  changed: boolean;
  /** The final frame: the desktop at the last event. */
  last: boolean;
}

export interface RdpFramesOptions {
  /** A frame every this many ms of the recording (0, every, 2·every, ...) plus the last; default: one per change plus the last. */
  everyMs?: number;
  /** Encode each frame as PNG too (an unchanged frame reuses the encoding before it). */
  png?: boolean;
  /** Only the final frame. */
  lastOnly?: boolean;
  /** Called with the renderer when the reading ends (its statistics). */
  onEnd?: (stats: RdpRenderStats) => void;
}

/**
 * The frames of an RDP recording. The recording's verdict is checked at the end, as for the asciicast
 * export: a chunk that fails authentication ends the film with RECORDING_UNREADABLE.
 */
export async function* rdpFrames(rec: Recording, opts: RdpFramesOptions = {}): AsyncGenerator<RdpFrame> {
  const h = rec.header;
  if (h.protocol !== 'rdp') throw new InputError(`a ${h.protocol} recording has no desktop to render`);
  const every = opts.everyMs;
  if (every !== undefined && (!Number.isFinite(every) || every < 1)) throw new InputError('a frame interval is at least 1 ms');
  if (!desktopSizeOk(h.cols, h.rows)) throw new WardenError('RECORDING_UNREADABLE', `the recording's desktop of ${h.cols}×${h.rows} pixels is not one a client shows`);
  const renderer = new RdpRenderer(h.cols, h.rows);
  const fb = renderer.framebuffer;
  let dirty = true;
  let lastPng: Buffer | undefined;
  const frame = (atMs: number, last: boolean): RdpFrame => {
    const changed = dirty;
    if (opts.png && (changed || !lastPng)) lastPng = encodePng(fb.rgba, fb.width, fb.height);
    dirty = false;
    return { atMs, width: fb.width, height: fb.height, rgba: fb.snapshot(), changed, last, ...(opts.png ? { png: lastPng! } : {}) };
  };
  let next = 0;
  let at = 0;
  for await (const e of rec.events()) {
    if (every !== undefined && !opts.lastOnly) {
      for (; next < e.at; next += every) yield frame(next, false);
    }
    at = e.at;
    if (e.type !== 'output') continue;
    if (renderer.feed(e.data)) {
      dirty = true;
      if (every === undefined && !opts.lastOnly) yield frame(e.at, false);
    }
  }
  opts.onEnd?.(renderer.stats);
  if (rec.verdict && !rec.verdict.ok) throw new WardenError('RECORDING_UNREADABLE', `the recording failed verification: ${rec.verdict.problem}`);
  yield frame(at, true);
}
