// js-md4 ships no types. NTLM needs MD4 (the NT hash) and Node 20's OpenSSL refuses it without the legacy provider.
declare module 'js-md4' {
  type Message = string | ArrayBuffer | Uint8Array | number[];
  interface Md4 {
    (message: Message): string;
    arrayBuffer(message: Message): ArrayBuffer;
  }
  const md4: Md4;
  export = md4;
}
