/**
 * The one HTTP client of the spin-docker API, for the CLI, the dashboard (bundled for the browser) and scripts:
 * only the public API, nothing of the server's code but the types of its answers. Runs wherever `fetch` does.
 */
export type { ContainerView, PullView } from '../api/schemas/responses.js';

/** A refusal or failure as the server worded it (`status` 0: the server could not be reached at all). */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  /** The server, e.g. http://localhost:8080; omitted in the browser (the page's own origin). */
  readonly url?: string;
  /** Basic credentials; omitted in the browser, which holds the dashboard's login. */
  readonly user?: string;
  readonly password?: string;
  /** Per request, until the answer's headers (streams run as long as they run). */
  readonly timeoutMs?: number;
}

export class ApiClient {
  private readonly authorization: string | undefined;

  constructor(private readonly options: ClientOptions = {}) {
    this.authorization = options.password === undefined ? undefined : `Basic ${btoa(`${options.user ?? 'admin'}:${options.password}`)}`;
  }

  /** Where requests go ('' in the browser: its own origin). */
  get origin(): string {
    return this.options.url === undefined ? '' : new URL(this.options.url).origin;
  }

  /** A request; a non-2xx answer throws an ApiError with the server's message and code. */
  async request(method: string, path: string, options: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Response> {
    const url = this.options.url === undefined ? path : new URL(path, this.options.url).toString();
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
          ...(this.authorization === undefined ? {} : { authorization: this.authorization }),
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
      throw new ApiError(`cannot reach the server${this.origin === '' ? '' : ` at ${this.origin}`} (${why})`, 0, 'unreachable');
    } finally {
      // Only the wait for the headers is bounded: a stream may go on.
      timeout.removeEventListener('abort', onTimeout);
    }
    if (res.ok) return res;
    const text = await res.text().catch(() => '');
    let message = text.trim() || `${res.status} ${res.statusText}`;
    let code = '';
    try {
      const body = JSON.parse(text) as { message?: string; code?: string };
      message = body.message ?? message;
      code = body.code ?? '';
    } catch {
      // not JSON: the text as it is
    }
    throw new ApiError(message, res.status, code);
  }

  /** A request whose answer is JSON (or nothing, for a 204). */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request(method, path, body === undefined ? {} : { body });
    return (res.status === 204 ? undefined : await res.json()) as T;
  }
}
