// The landing after sign-in, the dashboard: what needs a person's eye now (GET /api/v1/dashboard). The server
// sends only the sections this user's profile may read; a section absent from the answer is not drawn at all.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, failed } from '../api.js';
import { formatDateTime, formatNumber, profileLabel, t } from '../i18n.js';
import { NAV, allowed } from '../nav.js';
import { followLink } from '../router.js';
import type { Me } from '../types.js';
import type { DashboardView } from './access-types.js';

/** How many items of a section the dashboard lists (the server sends up to ten; the link leads to the rest). */
const SHOWN = 5;

const MY_ACCESS = NAV.find((n) => n.path === '/console/my-access')!;

function Link({ href, id, children }: { href: string; id?: string; children: ComponentChildren }) {
  return (
    <a href={href} id={id} onClick={(ev) => followLink(ev, href)}>
      {children}
    </a>
  );
}

function Card({ id, title, children }: { id: string; title: string; children: ComponentChildren }) {
  return (
    <section class="panel card" id={id} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{title}</h2>
      {children}
    </section>
  );
}

/** A count that draws the eye when it is not zero. */
function Count({ id, n }: { id: string; n: number }) {
  return (
    <strong class={n > 0 ? 'count warn' : 'count'} id={id}>
      {formatNumber(n)}
    </strong>
  );
}

export function HomePage({ me }: { me: Me & { approver?: boolean } }) {
  const [view, setView] = useState<DashboardView | null>(null);
  useEffect(() => {
    let live = true;
    api<{ dashboard: DashboardView }>('GET', '/api/v1/dashboard')
      .then((r) => live && setView(r.dashboard))
      .catch((e: unknown) => failed(e));
    return () => {
      live = false;
    };
  }, []);

  return (
    <section>
      <h1 id="welcome" tabIndex={-1}>
        {t('home.welcome', { name: me.user.fullName || me.user.username })}
      </h1>
      <dl class="facts">
        <dt>{t('home.profile')}</dt>
        <dd id="profile">{profileLabel(me.user.profile)}</dd>
      </dl>
      {view === null ? (
        <p aria-busy="true">{t('console.loading')}</p>
      ) : (
        <div class="cards" id="dashboard">
          {me.approver === true || view.approvals.pending > 0 ? (
            <Card id="dash-approvals" title={t('console.dashboard.approvals')}>
              <p>
                <Count id="dash-pending" n={view.approvals.pending} /> {t('console.dashboard.approvalsWaiting')}
              </p>
              <Link href="/console/approvals" id="dash-approvals-link">
                {t('console.dashboard.openApprovals')}
              </Link>
            </Card>
          ) : null}

          {allowed(MY_ACCESS, me.permissions) ? (
            <Card id="dash-my-access" title={t('console.dashboard.myAccess')}>
              <p>{t('console.dashboard.myAccessText')}</p>
              <Link href="/console/my-access">{t('console.dashboard.openMyAccess')}</Link>
            </Card>
          ) : null}

          {view.liveSessions ? (
            <Card id="dash-live" title={t('console.dashboard.liveSessions')}>
              <p>
                <Count id="dash-live-total" n={view.liveSessions.total} /> {t('console.dashboard.liveNow')}
              </p>
              {view.liveSessions.sessions.length > 0 ? (
                <ul class="plain">
                  {view.liveSessions.sessions.slice(0, SHOWN).map((s) => (
                    <li key={s.id}>
                      {t('console.dashboard.liveItem', { user: s.user, credential: s.credential, device: s.device, protocol: s.protocol.toUpperCase(), since: formatDateTime(s.startedAt) })}
                    </li>
                  ))}
                </ul>
              ) : null}
              <Link href="/console/sessions">{t('console.dashboard.openSessions')}</Link>
            </Card>
          ) : null}

          {view.failedLogins ? (
            <Card id="dash-failed-logins" title={t('console.dashboard.failedLogins')}>
              <p>
                <Count id="dash-failed-total" n={view.failedLogins.total} /> {t('console.dashboard.last24h')}
              </p>
              <dl class="facts">
                {Object.entries(view.failedLogins.byType).map(([type, n]) => (
                  <div key={type}>
                    <dt>{type === 'auth.login' ? t('console.dashboard.failed.web') : type === 'auth.mfa' ? t('console.dashboard.failed.mfa') : t('console.dashboard.failed.proxy')}</dt>
                    <dd>{formatNumber(n)}</dd>
                  </div>
                ))}
              </dl>
            </Card>
          ) : null}

          {view.blockedCommands ? (
            <Card id="dash-blocked" title={t('console.dashboard.blockedCommands')}>
              <p>
                <Count id="dash-blocked-total" n={view.blockedCommands.total} /> {t('console.dashboard.last24h')}
              </p>
            </Card>
          ) : null}

          {view.expiring ? (
            <Card id="dash-expiring" title={t('console.dashboard.expiring')}>
              <p>
                {t('console.dashboard.expiringCounts', {
                  authorities: formatNumber(view.expiring.authorities.total),
                  certificates: formatNumber(view.expiring.certificates.total),
                })}
              </p>
              {view.expiring.authorities.items.length + view.expiring.certificates.items.length > 0 ? (
                <ul class="plain">
                  {view.expiring.authorities.items.slice(0, SHOWN).map((a) => (
                    <li key={`ca-${a.id}`}>{t('console.dashboard.expiringCa', { subject: a.subject, at: formatDateTime(a.notAfter) })}</li>
                  ))}
                  {view.expiring.certificates.items.slice(0, SHOWN).map((c) => (
                    <li key={`cert-${c.id}`}>{t('console.dashboard.expiringCert', { username: c.username, subject: c.subject, at: formatDateTime(c.notAfter) })}</li>
                  ))}
                </ul>
              ) : null}
            </Card>
          ) : null}

          {view.unreachableDevices ? (
            <Card id="dash-unreachable" title={t('console.dashboard.unreachable')}>
              <p>
                <Count id="dash-unreachable-total" n={view.unreachableDevices.total} /> {t('console.dashboard.unreachableNow')}
              </p>
              {view.unreachableDevices.devices.length > 0 ? (
                <ul class="plain">
                  {view.unreachableDevices.devices.slice(0, SHOWN).map((d) => (
                    <li key={d.id}>{t('console.dashboard.unreachableItem', { hostname: d.hostname, address: d.address, at: formatDateTime(d.checkedAt) })}</li>
                  ))}
                </ul>
              ) : null}
            </Card>
          ) : null}
        </div>
      )}
    </section>
  );
}
