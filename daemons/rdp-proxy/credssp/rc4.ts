// RC4 by hand: NTLM seals with it, and Node 20's OpenSSL refuses RC4 unless the process loads the legacy
// provider, which we will not enable for the whole appliance for one cipher (field notes).

/** One RC4 keystream; NTLM keeps a sealing handle per direction for the whole session, so the state persists. */
export class Rc4 {
  private readonly s = new Uint8Array(256);
  private i = 0;
  private j = 0;

  constructor(key: Uint8Array) {
    if (key.length === 0 || key.length > 256) throw new RangeError('RC4 key length');
    const s = this.s;
    for (let k = 0; k < 256; k++) s[k] = k;
    for (let k = 0, j = 0; k < 256; k++) {
      j = (j + s[k]! + key[k % key.length]!) & 0xff;
      const t = s[k]!;
      s[k] = s[j]!;
      s[j] = t;
    }
  }

  /** XORs `data` with the next bytes of the keystream into a new Buffer. */
  update(data: Uint8Array): Buffer {
    const out = Buffer.alloc(data.length);
    const s = this.s;
    let { i, j } = this;
    for (let k = 0; k < data.length; k++) {
      i = (i + 1) & 0xff;
      j = (j + s[i]!) & 0xff;
      const t = s[i]!;
      s[i] = s[j]!;
      s[j] = t;
      out[k] = data[k]! ^ s[(s[i]! + s[j]!) & 0xff]!;
    }
    this.i = i;
    this.j = j;
    return out;
  }

  /** The key schedule holds key material: wipe it when the session ends. */
  wipe(): void {
    this.s.fill(0);
    this.i = this.j = 0;
  }
}

/** RC4K of MS-NLMP: a fresh keystream for one message (the exchange of the random session key). */
export function rc4Once(key: Uint8Array, data: Uint8Array): Buffer {
  const c = new Rc4(key);
  const out = c.update(data);
  c.wipe();
  return out;
}
