// A local server speaking Duo Universal Prompt's published OAuth 2.0 / OIDC protocol (health_check,
// authorize, token; HS512 JWTs keyed by the client secret), so the real @duosecurity/duo_universal SDK
// can be tested here where Duo's cloud cannot be reached. The authorize step answers at once as a user
// who approved (or denied) the push would.
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify } from 'jose';
import { createSelfSignedTlsCertificate } from '../../appliance/pki/index.js';

export interface FakeDuo {
  apiHost: string;
  caPem: string;
  clientId: string;
  clientSecret: string;
  /** What the "user" answers at the prompt: allow (default) or deny. */
  decisions: Map<string, 'allow' | 'deny'>;
  /** Make the health check fail (Duo down). */
  healthy: boolean;
  requests: string[];
  close: () => Promise<void>;
}

function form(body: string): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(body));
}

/** `host` is the name clients use (127.0.0.1 or localhost: a different site from the appliance's). */
export async function startFakeDuo(host = '127.0.0.1'): Promise<FakeDuo> {
  const clientId = 'DI' + randomBytes(9).toString('hex').toUpperCase();
  const clientSecret = randomBytes(20).toString('hex');
  const key = new TextEncoder().encode(clientSecret);
  const tls = await createSelfSignedTlsCertificate({ commonName: '127.0.0.1', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], days: 2 });
  const codes = new Map<string, { username: string; result: 'allow' | 'deny'; nonce?: string }>();
  let base = '';
  const fake: FakeDuo = { apiHost: '', caPem: tls.certPem, clientId, clientSecret, decisions: new Map(), healthy: true, requests: [], close: async () => {} };

  async function verifyAssertion(assertion: string | undefined, audience: string): Promise<boolean> {
    if (!assertion) return false;
    try {
      const { payload } = await jwtVerify(assertion, key, { algorithms: ['HS512'], audience, issuer: clientId, subject: clientId });
      return typeof payload.jti === 'string';
    } catch {
      return false;
    }
  }

  const server = https.createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', async () => {
      const url = new URL(req.url ?? '/', base);
      fake.requests.push(`${req.method} ${url.pathname}`);
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      try {
        if (req.method === 'POST' && url.pathname === '/oauth/v1/health_check') {
          const f = form(body);
          if (!fake.healthy) return json(400, { stat: 'FAIL', code: 50000, message: 'service unavailable', message_detail: 'down for the test', timestamp: Date.now() / 1000 });
          if (f.client_id !== clientId || !(await verifyAssertion(f.client_assertion, `${base}/oauth/v1/health_check`))) {
            return json(400, { stat: 'FAIL', code: 40002, message: 'invalid_client', message_detail: 'bad client assertion', timestamp: Date.now() / 1000 });
          }
          return json(200, { stat: 'OK', response: { timestamp: Math.floor(Date.now() / 1000) } });
        }
        if (req.method === 'GET' && url.pathname === '/oauth/v1/authorize') {
          const q = url.searchParams;
          if (q.get('client_id') !== clientId || q.get('response_type') !== 'code') return json(400, { error: 'invalid_request', error_description: 'bad client or response type' });
          const { payload } = await jwtVerify(q.get('request') ?? '', key, { algorithms: ['HS512'], audience: base, issuer: clientId });
          const redirect = String(payload.redirect_uri);
          if (redirect !== q.get('redirect_uri')) return json(400, { error: 'invalid_request', error_description: 'redirect_uri mismatch' });
          const username = String(payload.duo_uname);
          const code = randomBytes(16).toString('hex');
          codes.set(code, { username, result: fake.decisions.get(username) ?? 'allow' });
          const back = new URL(redirect);
          back.searchParams.set(payload.use_duo_code_attribute ? 'duo_code' : 'code', code);
          back.searchParams.set('state', String(payload.state));
          res.writeHead(302, { location: back.toString() });
          return res.end();
        }
        if (req.method === 'POST' && url.pathname === '/oauth/v1/token') {
          const f = form(body);
          if (f.grant_type !== 'authorization_code' || !(await verifyAssertion(f.client_assertion, `${base}/oauth/v1/token`))) {
            return json(400, { error: 'invalid_grant', error_description: 'bad grant or client assertion' });
          }
          const entry = codes.get(f.code ?? '');
          codes.delete(f.code ?? '');
          if (!entry) return json(400, { error: 'invalid_grant', error_description: 'unknown or used code' });
          const now = Math.floor(Date.now() / 1000);
          const idToken = await new SignJWT({
            preferred_username: entry.username,
            auth_time: now,
            auth_result: { result: entry.result, status: entry.result, status_msg: entry.result === 'allow' ? 'Login Successful' : 'Login Denied' },
            auth_context: { result: entry.result, factor: 'duo_push', user: { name: entry.username, key: null, groups: [] } },
          })
            .setProtectedHeader({ alg: 'HS512' })
            .setIssuer(`${base}/oauth/v1/token`)
            .setAudience(clientId)
            .setSubject(entry.username)
            .setIssuedAt(now)
            .setExpirationTime(now + 300)
            .sign(key);
          return json(200, { id_token: idToken, access_token: randomBytes(16).toString('hex'), expires_in: 3600, token_type: 'Bearer' });
        }
        json(404, { error: 'not_found' });
      } catch (e) {
        json(400, { error: 'invalid_request', error_description: (e as Error).message });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  base = `https://${host}:${port}`;
  fake.apiHost = `${host}:${port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}
