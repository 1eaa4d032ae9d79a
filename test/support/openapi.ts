import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Response } from 'supertest';
import { expect } from 'vitest';

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>>; components: object };

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;

/**
 * Checks a real answer against what the OpenAPI document says of that operation and status: the status must
 * be the one expected and documented, and a JSON body must match the documented schema (validated with Ajv, JSON Schema 2020-12).
 */
export function documentedBy(doc: Doc) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  return (method: string, path: string, res: Response, expected: number) => {
    // The status the test meant to cause: a documented error is no pass when the call was meant to succeed.
    expect(res.status, `${method} ${path}: ${JSON.stringify(res.body).slice(0, 300)}`).toBe(expected);
    const operation = doc.paths[path]?.[method.toLowerCase()];
    expect(operation, `${method} ${path} is documented`).toBeDefined();
    const documented = operation?.responses[String(res.status)];
    expect(documented, `${method} ${path} documents status ${res.status}`).toBeDefined();
    const type = String(res.headers['content-type'] ?? '').split(';')[0] ?? '';
    if (documented?.content === undefined) {
      expect(res.text ?? '', `${method} ${path} ${res.status} has no body`).toBe('');
      return;
    }
    expect(Object.keys(documented.content), `${method} ${path} ${res.status} documents ${type}`).toContain(type);
    if (type !== 'application/json') return;
    const validate = ajv.compile({ ...documented.content[type]?.schema, components: doc.components });
    const valid = validate(res.body);
    expect(validate.errors ?? [], `${method} ${path} ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`).toEqual([]);
    expect(valid).toBe(true);
  };
}
