// Whole RDP frames off a byte stream (a TCP socket before TLS, a TLS socket after): `next()` while the proxy
// drives the connection sequence itself, then `relay()` hands every frame to the relay as it arrives. The
// splitting is protocol/'s FrameReader; a malformed frame fails the stream with its RdpProtocolError.
import type { Duplex } from 'node:stream';
import { FrameReader, RdpProtocolError, type Frame } from './protocol/index.js';

export class StreamClosed extends Error {
  constructor(readonly side: string) {
    super(`the ${side} closed the connection`);
  }
}

export class FrameSocket {
  private readonly reader: FrameReader;
  private readonly queue: Frame[] = [];
  private waiter: { resolve: (f: Frame) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | undefined;
  private failure: Error | undefined;
  private sink: ((f: Frame) => void) | undefined;
  private readonly onData = (chunk: Buffer) => this.data(chunk);
  private readonly onEnd = () => this.fail(new StreamClosed(this.side));
  private readonly onError = (e: Error) => this.fail(e);

  constructor(
    readonly socket: Duplex,
    private readonly side: string,
    maxFrame?: number,
  ) {
    this.reader = new FrameReader(maxFrame === undefined ? undefined : { maxFrame });
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  /** The next whole frame; rejects on a malformed frame, the end of the stream, or after `timeoutMs`. */
  next(timeoutMs: number): Promise<Frame> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new RdpProtocolError(`the ${this.side} sent nothing for ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = { resolve, reject, timer };
    });
  }

  /** From now on every frame goes to `sink` as it arrives (queued ones first); failures to `onFailure`. */
  relay(sink: (f: Frame) => void, onFailure: (e: Error) => void): void {
    this.sink = sink;
    this.failureListener = onFailure;
    try {
      for (const f of this.queue.splice(0)) sink(f);
    } catch (e) {
      this.fail(e as Error);
    }
    if (this.failure) onFailure(this.failure);
  }
  private failureListener: ((e: Error) => void) | undefined;

  /**
   * Stop reading (before the socket is wrapped in TLS). Bytes already read and not yet a frame would be lost
   * to the TLS layer: a peer that sends before it was answered is refused.
   */
  detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    this.socket.pause();
    if (this.queue.length > 0 || this.reader.buffered > 0) throw new RdpProtocolError(`the ${this.side} sent data before it was answered`);
  }

  private data(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk);
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    for (const f of frames) {
      if (this.sink) {
        // A frame the relay cannot handle (a malformed PDU inside a whole frame) fails this stream, like a
        // malformed frame: never an exception out of a socket's 'data' event.
        try {
          this.sink(f);
        } catch (e) {
          this.fail(e as Error);
          return;
        }
      } else if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        clearTimeout(w.timer);
        w.resolve(f);
      } else this.queue.push(f);
    }
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    this.sink = undefined;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      clearTimeout(w.timer);
      w.reject(e);
    }
    this.failureListener?.(e);
  }
}
