import { ApiHarness } from '../helpers/api';
import type { Agent } from '../helpers/api';

interface OpenApiDocument {
  components: { securitySchemes: Record<string, { in?: string; name?: string }> };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The Set-Cookie header of the session, split into its attributes (names lower-cased). */
function sessionCookie(setCookie: string[] | string | undefined): Map<string, string> | undefined {
  const headers = typeof setCookie === 'string' ? [setCookie] : (setCookie ?? []);
  const header = headers.find((value) => /^(__Host-)?eucora\.sid=/.test(value));
  if (header === undefined) return undefined;
  const [pair = '', ...attributes] = header.split(';').map((part) => part.trim());
  const cookie = new Map<string, string>([['name', pair.split('=')[0] ?? '']]);
  for (const attribute of attributes) {
    const [key = '', value = ''] = attribute.split('=');
    cookie.set(key.toLowerCase(), value);
  }
  return cookie;
}

async function devLogin(agent: Agent, headers: Record<string, string> = {}) {
  return agent
    .post('/api/v1/auth/dev-login')
    .set(headers)
    .send({ username: 'alice@example.com', roles: ['auditor'] })
    .expect(200);
}

describe('sessions over plain http (development)', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await ApiHarness.start();
  });
  afterAll(async () => {
    await api.close();
  });

  it('keep a cookie without the __Host- prefix, HttpOnly and SameSite=Lax, not Secure', async () => {
    const res = await devLogin(api.anonymous());
    const cookie = sessionCookie(res.headers['set-cookie']);
    expect(cookie?.get('name')).toBe('eucora.sid');
    expect(cookie?.has('httponly')).toBe(true);
    expect(cookie?.get('samesite')).toBe('Lax');
    expect(cookie?.has('secure')).toBe(false);
    expect(cookie?.get('path')).toBe('/');
    api.contractViolations();
  });

  it('name the cookie they use in the OpenAPI security scheme', () => {
    const document = api.document as OpenApiDocument;
    expect(document.components.securitySchemes.session).toMatchObject({ in: 'cookie', name: 'eucora.sid' });
  });
});

describe('sessions behind an https load balancer (production cookies)', () => {
  const forwardedHttps = { 'X-Forwarded-Proto': 'https' };

  it('set a __Host- prefixed, Secure, HttpOnly, SameSite=Lax cookie when TRUST_PROXY trusts the balancer', async () => {
    const api = await ApiHarness.start({
      publicUrl: 'https://eucora.example.com',
      session: { secureCookies: true },
      overrides: { trustProxy: 'loopback' },
    });
    try {
      const agent = api.anonymous();
      const res = await devLogin(agent, forwardedHttps);
      const cookie = sessionCookie(res.headers['set-cookie']);
      expect(cookie?.get('name')).toBe('__Host-eucora.sid');
      expect(cookie?.has('secure')).toBe(true);
      expect(cookie?.has('httponly')).toBe(true);
      expect(cookie?.get('samesite')).toBe('Lax');
      // __Host- cookies must carry Path=/ and no Domain, or browsers drop them.
      expect(cookie?.get('path')).toBe('/');
      expect(cookie?.has('domain')).toBe(false);
      expect((api.document as OpenApiDocument).components.securitySchemes.session?.name).toBe(
        '__Host-eucora.sid',
      );
      api.contractViolations();
    } finally {
      await api.close();
    }
  });

  it('set no cookie at all when the proxy is not trusted, because the request looks like plain http', async () => {
    const api = await ApiHarness.start({
      publicUrl: 'https://eucora.example.com',
      session: { secureCookies: true },
      overrides: { trustProxy: false },
    });
    try {
      const agent = api.anonymous();
      const res = await devLogin(agent, forwardedHttps);
      expect(sessionCookie(res.headers['set-cookie'])).toBeUndefined();
      await agent.get('/api/v1/auth/me').set(forwardedHttps).expect(401);
      api.contractViolations();
    } finally {
      await api.close();
    }
  });
});

describe('session timeouts', () => {
  /** The session cookie as a Cookie header, to replay it after the browser would have dropped it. */
  const cookiePair = (setCookie: string[] | string | undefined) => {
    const cookie = sessionCookie(setCookie);
    const headers = typeof setCookie === 'string' ? [setCookie] : (setCookie ?? []);
    return headers.find((value) => value.startsWith(`${cookie?.get('name') ?? ''}=`))?.split(';')[0] ?? '';
  };

  // Cookie expiry has whole-second resolution: the timeouts here are seconds, not milliseconds.
  it('end a session left idle longer than the idle timeout, in the store too, and keep a busy one alive', async () => {
    const api = await ApiHarness.start({ session: { idleTimeoutMs: 3_000, absoluteTimeoutMs: 60_000 } });
    try {
      const busy = api.anonymous();
      await devLogin(busy);
      const idle = api.anonymous();
      const idleCookie = cookiePair((await devLogin(idle)).headers['set-cookie']);
      await api.anonymous().get('/api/v1/auth/me').set('Cookie', idleCookie).expect(200);
      for (let i = 0; i < 5; i += 1) {
        await sleep(1_000);
        await busy.get('/api/v1/auth/me').expect(200);
      }
      // 5 s after its last use: the idle session is gone, even to a client that kept the cookie.
      await idle.get('/api/v1/auth/me').expect(401);
      await api.anonymous().get('/api/v1/auth/me').set('Cookie', idleCookie).expect(401);
      api.contractViolations();
    } finally {
      await api.close();
    }
  }, 30_000);

  it('end even a busy session once the absolute timeout since sign-in has passed', async () => {
    const api = await ApiHarness.start({ session: { idleTimeoutMs: 3_000, absoluteTimeoutMs: 4_000 } });
    try {
      const agent = api.anonymous();
      await devLogin(agent);
      const statuses: number[] = [];
      for (let i = 0; i < 7; i += 1) {
        await sleep(1_000);
        statuses.push((await agent.get('/api/v1/auth/me')).status);
      }
      // Alive for the first seconds, refused after 4 s: activity never extends the absolute limit.
      expect(statuses.slice(0, 2)).toEqual([200, 200]);
      expect(statuses.slice(-2)).toEqual([401, 401]);
      api.contractViolations();
    } finally {
      await api.close();
    }
  }, 30_000);
});

describe('sessions in Redis, the production store', () => {
  let api: ApiHarness;
  beforeAll(async () => {
    api = await ApiHarness.start({
      session: { redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
    });
  });
  afterAll(async () => {
    await api.close();
  });

  it('POST /auth/logout deletes the session from Redis: its cookie, replayed, finds nobody', async () => {
    const agent = api.anonymous();
    const signedIn = await devLogin(agent);
    const setCookie = signedIn.headers['set-cookie'];
    expect(await api.sessionTtlSeconds(setCookie)).toBeGreaterThan(0);
    await agent.post('/api/v1/auth/logout').send({}).expect(204);
    expect(await api.sessionTtlSeconds(setCookie)).toBeUndefined();
    const cookie = /eucora\.sid=[^;]+/.exec(String(setCookie))?.[0];
    await api
      .anonymous()
      .get('/api/v1/auth/me')
      .set('Cookie', cookie ?? '')
      .expect(401);
    expect(api.contractViolations()).toEqual([]);
  });
});
