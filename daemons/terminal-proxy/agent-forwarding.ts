// Agent forwarding (`ssh -A`) carried through the proxy: each agent channel the target opens back to the proxy
// is answered by an agent channel to the user's own client, the two piped byte for byte. The proxy has no agent
// of its own and never asks the user's agent anything: it only carries channels the target opened.
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import { BaseAgent } from 'ssh2';
import type { Connection, IdentityCallback, ServerChannel, SignCallback, SigningRequestOptions } from 'ssh2';

const NEVER = 'the proxy never uses a forwarded agent itself';

/**
 * What the upstream ssh2 Client gets as its `agent`: ssh2 asks it for a stream when the target opens an
 * `auth-agent@openssh.com` channel (and only after the proxy asked the target for agent forwarding). Asked for
 * keys or a signature (the proxy authenticating with the user's agent), it refuses.
 */
export class ForwardedAgent extends BaseAgent {
  constructor(private readonly openChannel: (cb: (err?: Error | null, stream?: Duplex) => void) => void) {
    super();
  }

  getIdentities(cb: IdentityCallback): void {
    cb(new Error(NEVER));
  }

  sign(pubKey: unknown, data: Buffer, options: SigningRequestOptions, cb?: SignCallback): void;
  sign(pubKey: unknown, data: Buffer, cb: SignCallback): void;
  sign(_pubKey: unknown, _data: Buffer, a?: SigningRequestOptions | SignCallback, b?: SignCallback): void {
    (typeof a === 'function' ? a : b)?.(new Error(NEVER));
  }

  override getStream(cb: (err?: Error | null, stream?: Duplex) => void): void {
    this.openChannel(cb);
  }
}

/** The parts of ssh2's server connection that open a channel towards the client (not public in ssh2 1.17). */
interface ServerInternals {
  _chanMgr?: { add(wrapper: unknown): number };
  _protocol?: { openssh_authAgent?(chan: number, initWindow: number, maxPacket: number): void };
}

// The window and packet size ssh2 assumes for every channel it confirms: what is advertised must match them.
const { MAX_WINDOW, PACKET_SIZE } = createRequire(import.meta.url)('ssh2/lib/Channel.js') as { MAX_WINDOW: number; PACKET_SIZE: number };

/**
 * Open an `auth-agent@openssh.com` channel to the user's client. ssh2's server connection can open
 * forwarded-tcpip, x11 and streamlocal channels but has no call for this type, though its protocol layer
 * writes the message (`openssh_authAgent`) and its confirmation handler builds the channel for any type: this
 * does what its own openChannel does, with the agent's type. A client that did not ask for agent forwarding
 * refuses the channel (OpenSSH: "ssh server tried agent forwarding").
 */
export function openClientAgentChannel(conn: Connection, cb: (err: Error | undefined, channel?: ServerChannel) => void): void {
  const internals = conn as unknown as ServerInternals;
  const add = internals._chanMgr?.add;
  const send = internals._protocol?.openssh_authAgent;
  if (typeof add !== 'function' || typeof send !== 'function') return cb(new Error('this ssh2 cannot open agent channels to a client'));
  let done = false;
  const wrapper = Object.assign(
    (err: Error | undefined, channel?: ServerChannel) => {
      if (done) return;
      done = true;
      cb(err, channel);
    },
    { type: 'auth-agent@openssh.com' },
  );
  const local = add.call(internals._chanMgr, wrapper);
  if (local === -1) return wrapper(new Error('no free channels on the client connection'));
  send.call(internals._protocol, local, MAX_WINDOW, PACKET_SIZE);
}
