import { Router } from 'express';
import type { ImageCatalog } from '../../domain/images/catalog.js';
import type { ImagePulls } from '../../domain/images/pulls.js';
import { methodNotAllowed } from '../middleware/errors.js';
import { parseFields, parseInput } from '../middleware/validate.js';
import { presentPull } from '../presenters/pull.presenter.js';
import { imagePathSchema, pullImageSchema } from './images.schemas.js';

export function imagesRoutes(images: Pick<ImageCatalog, 'list'>, pulls: Pick<ImagePulls, 'request' | 'get' | 'remove'>): Router {
  const router = Router();
  router
    .route('/')
    .get(async (_req, res) => {
      res.json(await images.list());
    })
    // A pull happens in the worker: the answer comes at once, with where to follow it.
    .post(async (req, res) => {
      const { image } = parseFields(pullImageSchema, req);
      const outcome = await pulls.request(image);
      if (outcome.kind === 'present') {
        res.status(200).json({ image, status: 'present' });
        return;
      }
      const view = presentPull(outcome.pull);
      res.status(202).location(view.uri).json(view);
    })
    .all(methodNotAllowed(['GET', 'POST']));

  router
    .route('/pulls/:id')
    .get(async (req, res) => {
      res.json(presentPull(await pulls.get(req.params.id as string)));
    })
    .all(methodNotAllowed(['GET']));

  router
    .route('/:reference')
    .delete(async (req, res) => {
      const { reference } = parseInput(imagePathSchema, { reference: req.params.reference });
      await pulls.remove(reference);
      res.status(204).end();
    })
    .all(methodNotAllowed(['DELETE']));
  return router;
}
