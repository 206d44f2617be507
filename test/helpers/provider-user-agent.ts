interface StoredCookie {
  readonly name: string;
  readonly value: string;
  readonly path: string;
}

/**
 * What a browser does at the OpenID Provider, without a browser: follows its redirects, keeps its cookies,
 * fills in its login form (login and password) and submits its consent form, until the provider sends
 * the browser back to another origin (the relying party's callback), whose URL it returns.
 */
export class ProviderUserAgent {
  private readonly cookies = new Map<string, StoredCookie>();

  constructor(
    private readonly fetch: typeof globalThis.fetch,
    private readonly providerOrigin: string,
  ) {}

  /** Signs in as `login` at the provider and consents; resolves with the URL the provider redirects back to. */
  async signIn(authorizationUrl: string, login: string): Promise<URL> {
    let response = await this.request(new URL(authorizationUrl));
    for (let step = 0; step < 20; step += 1) {
      if (response.status >= 300 && response.status < 400) {
        const next = new URL(response.headers.get('location') ?? '', response.url);
        if (next.origin !== this.providerOrigin) return next;
        response = await this.request(next);
        continue;
      }
      const page = await response.text();
      if (response.status !== 200) throw new Error(`provider answered ${String(response.status)}: ${page}`);
      const form = /<form[^>]*action="([^"]+)"[^>]*method="post"/i.exec(page);
      if (form?.[1] === undefined) throw new Error(`no form on the provider's page: ${page}`);
      const fields = new URLSearchParams();
      for (const hidden of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) {
        fields.set(hidden[1] ?? '', hidden[2] ?? '');
      }
      if (page.includes('name="login"')) {
        fields.set('login', login);
        fields.set('password', 'any password: the provider checks none');
      }
      response = await this.request(new URL(form[1].replaceAll('&amp;', '&'), response.url), fields);
    }
    throw new Error('the provider never sent the browser back');
  }

  private async request(url: URL, form?: URLSearchParams): Promise<Response> {
    const cookie = [...this.cookies.values()]
      .filter((stored) => url.pathname.startsWith(stored.path))
      .map((stored) => `${stored.name}=${stored.value}`)
      .join('; ');
    const response = await this.fetch(url, {
      method: form === undefined ? 'GET' : 'POST',
      redirect: 'manual',
      headers: {
        ...(cookie === '' ? {} : { cookie }),
        ...(form === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
      },
      ...(form === undefined ? {} : { body: form.toString() }),
    });
    for (const line of response.headers.getSetCookie()) this.store(line);
    Object.defineProperty(response, 'url', { value: url.toString() });
    return response;
  }

  private store(setCookie: string): void {
    const [pair = '', ...attributes] = setCookie.split(';').map((part) => part.trim());
    const separator = pair.indexOf('=');
    const name = pair.slice(0, separator);
    const value = pair.slice(separator + 1);
    const attribute = (key: string) =>
      attributes.find((a) => a.toLowerCase().startsWith(`${key}=`))?.slice(key.length + 1);
    const path = attribute('path') ?? '/';
    const expires = attribute('expires');
    const gone =
      value === '' ||
      attribute('max-age') === '0' ||
      (expires !== undefined && Date.parse(expires) < Date.now());
    if (gone) this.cookies.delete(`${name};${path}`);
    else this.cookies.set(`${name};${path}`, { name, value, path });
  }
}
