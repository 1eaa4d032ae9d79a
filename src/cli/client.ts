import { ApiClient, ApiError, type ClientOptions } from '../client/api-client.js';

/** Exit codes of the CLI, for scripts. */
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

/**
 * The API client of src/client, with its failures turned into CliErrors carrying the exit code for their status
 * (see EXIT).
 */
export class CliClient {
  private readonly api: ApiClient;

  constructor(private readonly options: ClientOptions & { readonly url: string; readonly user: string }) {
    try {
      new URL(options.url);
    } catch {
      throw new CliError(`not a URL: ${options.url} (--url or SD_URL, e.g. http://localhost:8080)`, EXIT.usage);
    }
    this.api = new ApiClient(options);
  }

  request(method: string, path: string, options: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Response> {
    return this.api.request(method, path, options).catch((error: unknown) => Promise.reject(this.asCliError(error)));
  }

  json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.api.json<T>(method, path, body).catch((error: unknown) => Promise.reject(this.asCliError(error)));
  }

  private asCliError(error: unknown): unknown {
    if (!(error instanceof ApiError)) return error;
    if (error.status === 0) return new CliError(error.message, EXIT.unreachable);
    if (error.status === 401) {
      return new CliError(`authentication failed: wrong password for ${this.options.user} at ${this.api.origin} (--password or SD_PASSWORD)`, EXIT.auth);
    }
    return new CliError(`${error.message}${error.code ? ` (${error.code})` : ''}`, error.status === 429 ? EXIT.auth : EXIT.refused);
  }
}
