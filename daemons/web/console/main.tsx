// The web console's entry: app.js (the login page) signals a whole session with `warden:enter`; the console
// then draws itself into #console. Nothing runs before that, so a signed-out visitor meets only the login.
import { render } from 'preact';
import { api, setCsrfToken } from './api.js';
import { Shell } from './shell.js';
import type { Me } from './types.js';

let started = false;

function start(me: Me): void {
  if (started) return;
  started = true;
  setCsrfToken(me.csrfToken);
  const root = document.getElementById('console');
  if (root) render(<Shell me={me} />, root);
}

document.addEventListener('warden:enter', (ev) => start((ev as CustomEvent<Me>).detail));

// On a cold cache app.js's GET /api/v1/me can answer before this bundle has even arrived, and its event went
// unheard: if the console's frame is already shown, ask the server for the session ourselves.
if (document.getElementById('view-home')?.hidden === false) {
  api<Me>('GET', '/api/v1/me')
    .then(start)
    .catch(() => undefined);
}
