// The desktop as the client saw it: RGBA, opaque, black until drawn. Every write is clipped to it, whatever
// rectangle a (possibly hostile) target claimed.
import { PNG } from 'pngjs';

export class RdpFramebuffer {
  private pixels: Buffer;

  constructor(
    private w: number,
    private h: number,
  ) {
    this.pixels = RdpFramebuffer.black(w, h);
  }

  private static black(w: number, h: number): Buffer {
    const b = Buffer.alloc(w * h * 4);
    for (let i = 3; i < b.length; i += 4) b[i] = 0xff;
    return b;
  }

  get width(): number {
    return this.w;
  }

  get height(): number {
    return this.h;
  }

  /** The live pixels (not a copy). */
  get rgba(): Buffer {
    return this.pixels;
  }

  /** A new desktop size (a reactivation): the picture starts black again, as on the client. */
  resize(w: number, h: number): void {
    this.w = w;
    this.h = h;
    this.pixels = RdpFramebuffer.black(w, h);
  }

  /**
   * Draw the top-left `width` × `height` of an RGBA bitmap `srcWidth` wide at (x, y). Returns whether any
   * pixel landed on the desktop.
   */
  blit(x: number, y: number, width: number, height: number, src: Uint8Array, srcWidth: number): boolean {
    const x0 = Math.max(x, 0);
    const y0 = Math.max(y, 0);
    const x1 = Math.min(x + width, this.w, x + srcWidth);
    const y1 = Math.min(y + height, this.h, y + Math.floor(src.length / 4 / Math.max(srcWidth, 1)));
    if (x1 <= x0 || y1 <= y0) return false;
    const rowBytes = (x1 - x0) * 4;
    for (let row = y0; row < y1; row++) {
      const s = ((row - y) * srcWidth + (x0 - x)) * 4;
      this.pixels.set(src.subarray(s, s + rowBytes), (row * this.w + x0) * 4);
    }
    return true;
  }

  snapshot(): Buffer {
    return Buffer.from(this.pixels);
  }

  png(): Buffer {
    return encodePng(this.pixels, this.w, this.h);
  }
}

/** RGBA to a PNG without alpha (the desktop is opaque): smaller, and what a screenshot tool writes. */
export function encodePng(rgba: Uint8Array, width: number, height: number): Buffer {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  return PNG.sync.write(png, { colorType: 2, inputColorType: 6, inputHasAlpha: true });
}

/** Decode a PNG to RGBA (for tests and comparisons with a client's screenshot). */
export function decodePng(png: Buffer): { width: number; height: number; rgba: Buffer } {
  const p = PNG.sync.read(png);
  return { width: p.width, height: p.height, rgba: p.data };
}
