/**
 * A tiny browser for dashboard tests over plain HTTP: keeps cookies, does not follow
 * redirects, posts forms from `origin` (the dashboard's own by default).
 */
export class Browser {
  cookies = new Map<string, string>();

  constructor(
    private readonly url: string,
    private readonly origin = url,
  ) {}

  private store(response: Response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const [name, value] = pair!.split('=');
      if (value === '' || /Max-Age=0/i.test(line)) this.cookies.delete(name!);
      else this.cookies.set(name!, value!);
    }
  }

  private header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async get(path: string) {
    const response = await fetch(`${this.url}${path}`, { headers: { cookie: this.header() }, redirect: 'manual' });
    this.store(response);
    return { response, text: await response.text() };
  }

  async post(path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
    const response = await fetch(`${this.url}${path}`, {
      method: 'POST',
      headers: {
        cookie: this.header(),
        'content-type': 'application/x-www-form-urlencoded',
        origin: this.origin,
        ...headers,
      },
      body: new URLSearchParams(form).toString(),
      redirect: 'manual',
    });
    this.store(response);
    return { response, text: await response.text() };
  }

  async signIn(token: string) {
    const page = await this.get('/ui/login');
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.text)![1]!;
    return this.post('/ui/login', { csrf, token, next: '/ui' });
  }

  async csrf(): Promise<string> {
    return /name="csrf" value="([^"]+)"/.exec((await this.get('/ui/exceptions')).text)![1]!;
  }
}
