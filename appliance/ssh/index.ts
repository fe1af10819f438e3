// The SSH side of a proxied session, shared by every door that carries one (the terminal proxy, the web
// console's terminal): the connection to the target with the vaulted credential and the pinned host key
// (upstream), the taps every channel's bytes pass through (the recording, the command rules, the search's
// activity, SFTP/scp file operations) and the bridge of one terminal to a client that is not SSH.
export * from './data-tap.js';
export * from './upstream.js';
export * from './recording-taps.js';
export * from './sftp-observer.js';
export * from './socket-writes.js';
export * from './terminal.js';
