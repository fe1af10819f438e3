// A bench-only HTTP/1.1 client over kept-alive TLS connections to the web daemon (shared by the benches).
import tls from 'node:tls';
import type { RunningDaemon } from '../tests/helpers/web-daemon.js';

/**
 * The load generator shares the cores with the daemon, so every microsecond it spends is taken from the hashes
 * and counted against the login rate. Node's HTTPS client costs about 0.5 ms per request here; this one writes
 * a prepared HTTP/1.1 request on one of its kept-alive TLS connections and reads the response by its
 * Content-Length — all the daemon's answers carry one. Written for the bench only: no chunked bodies, no
 * pipelining, one request per connection at a time.
 */
export class LeanClient {
  private readonly idle: tls.TLSSocket[] = [];
  private constructor() {}

  static async open(d: Pick<RunningDaemon, 'httpsPort' | 'ca'>, connections: number): Promise<LeanClient> {
    const c = new LeanClient();
    for (let i = 0; i < connections; i++) {
      c.idle.push(
        await new Promise<tls.TLSSocket>((resolve, reject) => {
          const s = tls.connect({ host: '127.0.0.1', port: d.httpsPort, ca: d.ca }, () => resolve(s));
          s.once('error', reject);
        }),
      );
    }
    return c;
  }

  /** POST a JSON body (with extra header lines, e.g. a session cookie); resolves with the status once the whole response was read. */
  post(path: string, body: string, headers: Record<string, string> = {}): Promise<number> {
    const socket = this.idle.pop();
    if (!socket) throw new Error('more requests in flight than connections');
    const extra = Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    const request = `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n${extra}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    return new Promise((resolve, reject) => {
      let head = '';
      let left = -1;
      let status = 0;
      const done = (e?: Error) => {
        socket.off('data', onData);
        socket.off('error', done);
        if (e) return reject(e);
        this.idle.push(socket);
        resolve(status);
      };
      const onData = (chunk: Buffer) => {
        if (left < 0) {
          head += chunk.toString('latin1');
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          status = Number(head.slice(9, 12));
          const m = /\r\ncontent-length: *(\d+)/i.exec(head.slice(0, end));
          if (!m) return done(new Error('response without content-length'));
          left = Number(m[1]) - (head.length - end - 4);
        } else left -= chunk.length;
        if (left <= 0) done();
      };
      socket.on('data', onData);
      socket.once('error', done);
      socket.write(request);
    });
  }

  close(): void {
    for (const s of this.idle) s.destroy();
  }
}
