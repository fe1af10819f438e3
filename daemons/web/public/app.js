// The login page's behaviour: password → second factor → forced change (if due) → the console. Plain browser
// JavaScript, served as-is (CSP allows only same-origin scripts; no inline code). Once the session is whole it
// hands over to the console bundle with a `warden:enter` event carrying GET /api/v1/me's answer.
'use strict';
(function () {
  const messages = JSON.parse(document.getElementById('messages').textContent);
  const msg = (key, values) => (messages[key] || key).replace(/\{\{(\w+)\}\}/g, (_, k) => (values && k in values ? values[k] : ''));
  let csrf = '';
  const VIEWS = ['view-login', 'view-mfa-certificate', 'view-mfa-totp', 'view-mfa-duo', 'view-change', 'view-home'];

  function show(view) {
    for (const id of VIEWS) document.getElementById(id).hidden = id !== view;
    // The console draws its own top bar and page area.
    document.querySelector('header.bar').hidden = view === 'view-home';
    document.querySelector('main').hidden = view === 'view-home';
  }
  function setError(id, text) {
    const el = document.getElementById(id);
    el.textContent = text || '';
    el.hidden = !text;
  }
  async function api(method, url, body) {
    const headers = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
    const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
    const data = res.status === 204 ? null : await res.json().catch(() => null);
    return { status: res.status, data };
  }
  function errorText(data) {
    if (!data) return msg('error.INPUT_INVALID');
    const key = 'error.' + data.error;
    return messages[key] ? msg(key, data.details) : data.message;
  }
  async function mfaStep(method) {
    if (method === 'certificate') return show('view-mfa-certificate');
    if (method === 'duo') return show('view-mfa-duo');
    const enrolment = await api('GET', '/api/v1/auth/mfa/totp/enrolment');
    const enrol = enrolment.status === 200 && enrolment.data && enrolment.data.enrolled === false;
    document.getElementById('totp-enrol').hidden = !enrol;
    if (enrol) {
      document.getElementById('totp-qr').src = enrolment.data.qrCodeDataUrl;
      document.getElementById('totp-secret').textContent = enrolment.data.secret;
    }
    show('view-mfa-totp');
    document.getElementById('totp-code').focus();
  }
  async function afterSecondFactor(status, errorId) {
    if (status === 200) {
      const me = await api('GET', '/api/v1/me');
      return me.status === 200 ? enter(me.data) : show('view-login');
    }
    setError(errorId, msg('login.invalid'));
  }
  function enter(me) {
    csrf = me.csrfToken;
    if (me.mfaRequired) return mfaStep(me.mfaRequired);
    if (me.passwordChangeRequired) {
      show('view-change');
      document.getElementById('current-password').focus();
      return;
    }
    // The console lives under /console/...; a deep link kept through the login lands where it pointed.
    if (!window.location.pathname.startsWith('/console')) window.history.replaceState(null, '', '/console');
    show('view-home');
    document.dispatchEvent(new CustomEvent('warden:enter', { detail: me }));
  }

  document.getElementById('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const button = document.getElementById('login-submit');
    button.disabled = true;
    setError('login-error', '');
    try {
      const { status, data } = await api('POST', '/api/v1/auth/login', {
        username: document.getElementById('username').value,
        password: document.getElementById('password').value,
      });
      document.getElementById('password').value = '';
      if (status === 200) enter(data);
      else setError('login-error', status === 401 || status === 403 ? msg('login.invalid') : errorText(data));
    } finally {
      button.disabled = false;
    }
  });

  document.getElementById('change-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    setError('change-error', '');
    const current = document.getElementById('current-password');
    const next = document.getElementById('new-password');
    const confirm = document.getElementById('confirm-password');
    if (next.value !== confirm.value) return setError('change-error', msg('login.mismatch'));
    const { status, data } = await api('POST', '/api/v1/me/password', { currentPassword: current.value, newPassword: next.value });
    current.value = next.value = confirm.value = '';
    if (status === 204) {
      const me = await api('GET', '/api/v1/me');
      if (me.status === 200) return enter(me.data);
      return show('view-login');
    }
    if (status === 401) return show('view-login');
    setError('change-error', errorText(data));
  });

  document.getElementById('certificate-submit').addEventListener('click', async () => {
    setError('certificate-error', '');
    const { status } = await api('POST', '/api/v1/auth/mfa/certificate');
    await afterSecondFactor(status, 'certificate-error');
  });

  document.getElementById('totp-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    setError('totp-error', '');
    const input = document.getElementById('totp-code');
    const { status } = await api('POST', '/api/v1/auth/mfa/totp', { code: input.value });
    input.value = '';
    if (status === 401) {
      // A wrong code keeps the step open unless the session ended (lockout): ask the server.
      const me = await api('GET', '/api/v1/me');
      if (me.status !== 200) {
        show('view-login');
        return setError('login-error', msg('login.invalid'));
      }
    }
    await afterSecondFactor(status, 'totp-error');
  });

  document.getElementById('duo-submit').addEventListener('click', async () => {
    setError('duo-error', '');
    const { status, data } = await api('POST', '/api/v1/auth/mfa/duo/start');
    if (status === 200 && data && data.url) window.location.assign(data.url);
    else setError('duo-error', msg('login.invalid'));
  });

  for (const el of document.querySelectorAll('button.cancel')) {
    el.addEventListener('click', async () => {
      await api('POST', '/api/v1/auth/logout');
      csrf = '';
      show('view-login');
    });
  }

  // Back from Duo with a failure: the generic message, nothing more.
  const failedMfa = new URLSearchParams(window.location.search).get('mfa') === 'failed';
  if (failedMfa) window.history.replaceState(null, '', '/');
  api('GET', '/api/v1/me').then(({ status, data }) => {
    if (status === 200 && !(failedMfa && data.mfaRequired)) return enter(data);
    show('view-login');
    if (failedMfa) setError('login-error', msg('login.invalid'));
  });
})();
