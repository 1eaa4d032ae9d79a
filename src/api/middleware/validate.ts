import type { Request } from 'express';
import { ZodError, type z } from 'zod';
import { DomainError } from '../../domain/errors.js';

/**
 * Every field may come in the query string, a form body or a JSON body (docs/API.md, "Request bodies");
 * the body wins over the query. A JSON body that is not an object counts as no fields.
 */
export function fields(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  const fromBody = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  return { ...(req.query as Record<string, unknown>), ...fromBody };
}

/**
 * Parses what a client sent with a schema. Its mistakes become a 400 here, at the edge, so that a ZodError
 * from anywhere else (a stored record, a job) is never mistaken for the client's fault.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  try {
    return schema.parse(input);
  } catch (error) {
    if (!(error instanceof ZodError)) throw error;
    const issue = error.issues[0];
    throw new DomainError('invalid', issue?.code === 'unrecognized_keys' ? 'option_not_allowed' : 'invalid_request', issue?.message ?? 'Invalid request');
  }
}

/** Parses a request's fields (query, form or JSON) with a schema. */
export function parseFields<S extends z.ZodType>(schema: S, req: Request): z.infer<S> {
  return parseInput(schema, fields(req));
}
