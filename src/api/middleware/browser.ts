import type { Request, RequestHandler } from 'express';
import helmet from 'helmet';
import { DomainError } from '../../domain/errors.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const LIST = /^\/v1\/containers\/?$/;

/** Every method but the safe ones changes something; so does the GET form of the audit (`?audit=…`). */
const changesThings = (req: Request) => !SAFE.has(req.method) || (req.method === 'GET' && LIST.test(req.path) && req.query.audit !== undefined);

/** The server's own origin as the browser sees it (through a trusted proxy: the scheme and host it names). */
const ownOrigin = (req: Request) => `${req.protocol}://${req.host}`.toLowerCase();

const crossSite = (why: string) =>
  new DomainError(
    'forbidden',
    'cross_site',
    `Refused: a request that changes things, sent by a page of another site (${why}). The API takes these from its own dashboard and from clients that are not browsers (curl, the CLI, scripts) only.`,
  );

/**
 * Cross-site request forgery: a page elsewhere that the admin's browser visits must not be able to use the
 * Basic login the browser holds for this server (a form posted here, `navigator.sendBeacon`, `fetch` with
 * `no-cors`). A request that changes things is refused when its `Sec-Fetch-Site` is present and is neither
 * `same-origin` nor `none` (typed or bookmarked), or when its `Origin` is present and is not exactly this
 * server's (scheme, host and port: the containers' own pages are on the same host name, on other ports).
 * Clients that are not browsers send neither header and are not affected.
 */
export function sameOriginOnly(): RequestHandler {
  return (req, _res, next) => {
    if (!changesThings(req)) return next();
    const site = req.get('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return next(crossSite(`Sec-Fetch-Site: ${site}`));
    const origin = req.get('origin');
    if (origin !== undefined && origin.toLowerCase() !== ownOrigin(req)) return next(crossSite(`Origin: ${origin.slice(0, 100)}`));
    next();
  };
}

/**
 * The headers of the pages a browser shows (the dashboard, the API reference), by helmet: a Content Security
 * Policy that runs only this server's own scripts and lets no other site frame the page (clickjacking), and
 * helmet's other defaults. Swagger UI styles its elements inline; the dashboard does not.
 */
export function pageHeaders(kind: 'dashboard' | 'docs'): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'style-src': kind === 'docs' ? ["'self'", "'unsafe-inline'"] : ["'self'"],
        'img-src': ["'self'", 'data:'],
        'connect-src': ["'self'"],
        'object-src': ["'none'"],
        'base-uri': ["'none'"],
        'form-action': ["'self'"],
        'frame-ancestors': ["'none'"],
      },
    },
    // A plain-HTTP installation must keep working: HSTS is the TLS proxy's to send (the playbook's nginx does).
    strictTransportSecurity: false,
    // The page's requests go only to its own origin; nothing cross-origin to isolate from.
    crossOriginEmbedderPolicy: false,
  });
}
