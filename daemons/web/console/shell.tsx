// The frame of every page: a skip link, the top bar (product, who is signed in, the language, sign out), the
// navigation (only the pages this user may use), the page area and the notices.
import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useRef } from 'preact/hooks';
import { api } from './api.js';
import { profileLabel, t } from './i18n.js';
import { NAV, allowed, navItemOf } from './nav.js';
import { followLink, useLocation } from './router.js';
import { dismiss, useToasts } from './toasts.js';
import type { Me } from './types.js';
import { HomePage } from './pages/home.js';
import { UsersPage } from './pages/users.js';
import { UserPage } from './pages/user.js';
import { AuditPage } from './pages/audit.js';
import { DevicesPage } from './pages/devices.js';
import { SettingsPage } from './pages/settings.js';
import { CertificatesPage } from './pages/certificates.js';
import { AccessGroupsPage } from './pages/access-groups.js';
import { CredentialsPage } from './pages/credentials.js';
import { MyAccessPage } from './pages/my-access.js';
import { TerminalPage } from './pages/terminal.js';
import { ApprovalsPage } from './pages/approvals.js';
import { SessionsPage } from './pages/sessions.js';

async function signOut(): Promise<void> {
  try {
    await api('POST', '/api/v1/auth/logout');
  } finally {
    window.location.assign('/');
  }
}

function Page({ me, path }: { me: Me; path: string }): ComponentChildren {
  const item = navItemOf(path);
  if (!item) return <NotFound />;
  if (!allowed(item, me.permissions, me.approver)) return <NotFound />;
  switch (item.path) {
    case '/console':
      return <HomePage me={me} />;
    case '/console/users': {
      const one = /^\/console\/users\/([1-9][0-9]{0,9})$/.exec(path);
      if (one) return <UserPage me={me} id={Number(one[1])} />;
      return path === '/console/users' ? <UsersPage me={me} /> : <NotFound />;
    }
    case '/console/audit':
      return <AuditPage />;
    case '/console/certificates':
      return <CertificatesPage me={me} />;
    case '/console/devices':
      return <DevicesPage me={me} />;
    case '/console/settings':
      return <SettingsPage me={me} />;
    case '/console/access-groups':
      return <AccessGroupsPage />;
    case '/console/credentials':
      return <CredentialsPage me={me} />;
    case '/console/my-access':
      if (path === '/console/my-access/terminal') return <TerminalPage me={me} />;
      return path === '/console/my-access' ? <MyAccessPage me={me} /> : <NotFound />;
    case '/console/approvals':
      return <ApprovalsPage />;
    case '/console/sessions':
      return <SessionsPage me={me} />;
    default:
      return <NotFound />;
  }
}

function NotFound() {
  return (
    <section>
      <h1 tabIndex={-1}>{t('console.notFound')}</h1>
    </section>
  );
}

export function Shell({ me }: { me: Me }) {
  const { path } = useLocation();
  const items = NAV.filter((n) => allowed(n, me.permissions, me.approver));
  const toasts = useToasts();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);

  // A new page moves the focus to its heading, so a screen reader announces it and Tab starts from there
  // (a layout effect: the focus moves with the render, before anyone can type into the old page).
  useLayoutEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const heading = main.current?.querySelector<HTMLElement>('h1');
    heading?.focus();
  }, [path]);

  const name = me.user.fullName || me.user.username;
  return (
    <div class="console">
      <a class="skip" href="#page">
        {t('console.skip')}
      </a>
      <header class="topbar">
        <span class="brand">{t('app.title')}</span>
        <span class="who" id="signed-in-as">
          {t('console.signedInAs', { name })}
          <span class="profile-badge">{profileLabel(me.user.profile)}</span>
        </span>
        <span class="lang">{t('console.languageName')}</span>
        <button type="button" id="logout" class="secondary" onClick={() => void signOut()}>
          {t('home.logout')}
        </button>
      </header>
      <div class="layout">
        <nav aria-label={t('console.nav.label')} id="nav">
          <ul>
            {items.map((n) => (
              <li key={n.path}>
                <a href={n.path} aria-current={navItemOf(path) === n ? 'page' : undefined} onClick={(ev) => followLink(ev, n.path)}>
                  {t(n.label)}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main id="page" ref={main} tabIndex={-1}>
          <Page me={me} path={path} />
        </main>
      </div>
      <div class="toasts" role="status" aria-live="polite">
        {toasts.map((n) => (
          <div key={n.id} class={`toast ${n.kind}`}>
            <span>{n.text}</span>
            <button type="button" class="link" onClick={() => dismiss(n.id)}>
              {t('console.dismiss')}
            </button>
          </div>
        ))}
      </div>
    </div>
  );
}
