// History routing under /console/...: a link changes the address without reloading the page; back and
// forward work; the server answers the same shell for every console path.
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set<() => void>();

function where(): string {
  return window.location.pathname + window.location.search;
}

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === where()) return;
  if (opts.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  for (const l of listeners) l();
}

window.addEventListener('popstate', () => {
  for (const l of listeners) l();
});

/** The current path and query; re-renders the caller when it changes. */
export function useLocation(): { path: string; search: URLSearchParams } {
  const [current, setCurrent] = useState(where());
  useEffect(() => {
    const update = () => setCurrent(where());
    listeners.add(update);
    return () => void listeners.delete(update);
  }, []);
  const i = current.indexOf('?');
  return { path: i < 0 ? current : current.slice(0, i), search: new URLSearchParams(i < 0 ? '' : current.slice(i)) };
}

/** A plain left click on a console link routes in the page; anything else (new tab, modifier) is the browser's. */
export function followLink(ev: MouseEvent, href: string): void {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  ev.preventDefault();
  navigate(href);
}
