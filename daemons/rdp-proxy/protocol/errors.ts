// The one error the protocol code throws. A malformed frame from either side must close that connection and
// nothing else, so the relay catches exactly this class; anything else escaping a parser is a bug here.

export class RdpProtocolError extends Error {
  override readonly name = 'RdpProtocolError';
}

/** Throws an RdpProtocolError unless `cond` holds; the message says what was wrong. */
export function check(cond: boolean, what: string): asserts cond {
  if (!cond) throw new RdpProtocolError(what);
}
