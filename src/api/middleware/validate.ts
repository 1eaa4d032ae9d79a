import type { Request } from 'express';
import type { z } from 'zod';

/**
 * Every field may come in the query string, a form body or a JSON body (API.md, "Request bodies");
 * the body wins over the query. A JSON body that is not an object counts as no fields.
 */
export function fields(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  const fromBody = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  return { ...(req.query as Record<string, unknown>), ...fromBody };
}

/** Parses a request's fields with a schema; a ZodError becomes a 400 in the error handler. */
export function parseFields<S extends z.ZodType>(schema: S, req: Request): z.infer<S> {
  return schema.parse(fields(req));
}
