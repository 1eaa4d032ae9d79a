import { Router } from 'express';
import type { ContainerService } from '../../domain/containers/containers.service.js';
import { methodNotAllowed } from '../middleware/errors.js';

export function imagesRoutes(service: ContainerService): Router {
  const router = Router();
  router
    .route('/')
    .get(async (_req, res) => {
      res.json(await service.listImages());
    })
    .all(methodNotAllowed(['GET']));
  return router;
}
