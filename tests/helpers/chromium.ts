// Launch options for Debian's Chromium under playwright-core (never a downloaded browser).
export const CHROMIUM_PATH = '/usr/bin/chromium';

// Playwright gives each launch its own empty profile directory.
export const CHROMIUM_ARGS = [
  '--no-sandbox', // tests run as root, where Chromium's sandbox cannot start
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
