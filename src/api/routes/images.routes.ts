import { Router } from 'express';
import type { ImageCatalog } from '../../domain/images/catalog.js';
import { methodNotAllowed } from '../middleware/errors.js';

export function imagesRoutes(images: Pick<ImageCatalog, 'list'>): Router {
  const router = Router();
  router
    .route('/')
    .get(async (_req, res) => {
      res.json(await images.list());
    })
    .all(methodNotAllowed(['GET']));
  return router;
}
