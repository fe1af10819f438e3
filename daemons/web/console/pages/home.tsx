// The landing after sign-in: who you are and the pages you may use (the dashboard takes this place later).
import { profileLabel, t } from '../i18n.js';
import { NAV, allowed } from '../nav.js';
import { followLink } from '../router.js';
import type { Me } from '../types.js';

export function HomePage({ me }: { me: Me }) {
  const pages = NAV.filter((n) => n.path !== '/console' && allowed(n, me.permissions));
  return (
    <section>
      <h1 id="welcome" tabIndex={-1}>
        {t('home.welcome', { name: me.user.fullName || me.user.username })}
      </h1>
      <dl class="facts">
        <dt>{t('home.profile')}</dt>
        <dd id="profile">{profileLabel(me.user.profile)}</dd>
      </dl>
      {pages.length > 0 ? (
        <ul class="tiles">
          {pages.map((n) => (
            <li key={n.path}>
              <a href={n.path} onClick={(ev) => followLink(ev, n.path)}>
                {t(n.label)}
              </a>
            </li>
          ))}
        </ul>
      ) : (
        <p>{t('console.home.nothingYet')}</p>
      )}
    </section>
  );
}
