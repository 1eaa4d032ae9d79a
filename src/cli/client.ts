/**
 * The CLI's HTTP client: only the public API, with Basic auth. Failures become a CliError with the exit code
 * scripts rely on (see EXIT).
 */
export const EXIT = {
  ok: 0,
  /** The server refused or failed the request (4xx other than 401/429, or 5xx). */
  refused: 1,
  /** Bad usage of the command line. */
  usage: 2,
  /** The server cannot be reached (refused, timed out, not an HTTP server). */
  unreachable: 3,
  /** Wrong password (401) or too many failed logins (429). */
  auth: 4,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  readonly url: string;
  readonly user: string;
  readonly password: string;
  /** Per request, until the answer's headers (streams run as long as they run). */
  readonly timeoutMs?: number;
}

export class ApiClient {
  private readonly base: URL;
  private readonly authorization: string;

  constructor(private readonly options: ClientOptions) {
    try {
      this.base = new URL(options.url);
    } catch {
      throw new CliError(`not a URL: ${options.url} (--url or SD_URL, e.g. http://localhost:8080)`, EXIT.usage);
    }
    this.authorization = `Basic ${Buffer.from(`${options.user}:${options.password}`).toString('base64')}`;
  }

  /** A request; a non-2xx answer throws a CliError with the server's message. */
  async request(method: string, path: string, options: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Response> {
    const url = new URL(path, this.base);
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 30_000);
    const controller = new AbortController();
    const onTimeout = () => controller.abort(timeout.reason);
    timeout.addEventListener('abort', onTimeout, { once: true });
    options.signal?.addEventListener('abort', () => controller.abort(options.signal?.reason), { once: true });
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: this.authorization,
          accept: 'application/json',
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: controller.signal,
      });
    } catch (error) {
      if (options.signal?.aborted) throw error;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const why = timeout.aborted ? 'no answer in time' : (cause?.code ?? cause?.message ?? (error as Error).message);
      throw new CliError(`cannot reach the server at ${this.base.origin} (${why})`, EXIT.unreachable);
    } finally {
      // Only the wait for the headers is bounded: a stream may go on.
      timeout.removeEventListener('abort', onTimeout);
    }
    if (res.ok) return res;
    const text = await res.text().catch(() => '');
    let message = text.trim() || res.statusText;
    let code = '';
    try {
      const body = JSON.parse(text) as { message?: string; code?: string };
      message = body.message ?? message;
      code = body.code ?? '';
    } catch {
      // not JSON: the text as it is
    }
    if (res.status === 401) throw new CliError(`authentication failed: wrong password for ${this.options.user} at ${this.base.origin} (--password or SD_PASSWORD)`, EXIT.auth);
    if (res.status === 429) throw new CliError(`${message}${code ? ` (${code})` : ''}`, EXIT.auth);
    throw new CliError(`${message}${code ? ` (${code})` : ''}`, EXIT.refused);
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body === undefined ? {} : { body });
    return (res.status === 204 ? undefined : await res.json()) as T;
  }
}
