// The web console's entry: app.js (the login page) signals a whole session with `warden:enter`; the console
// then draws itself into #console. Nothing runs before that, so a signed-out visitor meets only the login.
import { render } from 'preact';
import { setCsrfToken } from './api.js';
import { Shell } from './shell.js';
import type { Me } from './types.js';

document.addEventListener('warden:enter', (ev) => {
  const me = (ev as CustomEvent<Me>).detail;
  setCsrfToken(me.csrfToken);
  const root = document.getElementById('console');
  if (root) render(<Shell me={me} />, root);
});
