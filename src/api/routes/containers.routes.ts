import { Router } from 'express';
import type { ContainerService } from '../../domain/containers/containers.service.js';
import { methodNotAllowed } from '../middleware/errors.js';
import { parseFields, parseInput } from '../middleware/validate.js';
import { presentContainer } from '../presenters/container.presenter.js';
import { createListCache } from '../presenters/list-cache.js';
import { createContainerSchema, listContainersSchema, patchContainerSchema } from './containers.schemas.js';

export function containersRoutes(service: ContainerService): Router {
  const router = Router();
  const listBody = createListCache(service);

  // A full id, or a unique prefix of at least 4 hex characters; what follows sees the full id.
  router.param('id', async (req, _res, next, id: string) => {
    req.params.id = await service.resolveId(id);
    next();
  });

  router
    .route('/')
    .get(async (req, res) => {
      const { audit } = parseInput(listContainersSchema, { audit: req.query.audit });
      if (audit === 'true') {
        const { records, failures } = await service.audit();
        // Every record is processed; how many corrections failed (each is logged) is told, not hidden.
        res.set('X-Audit-Failures', String(failures)).json(records.map(presentContainer));
        return;
      }
      res.set('Content-Type', 'application/json; charset=utf-8').send(await listBody());
    })
    .post(async (req, res) => {
      const { image, ssh_key: sshKeys, env } = parseFields(createContainerSchema, req);
      const record = await service.create(image, { ...(sshKeys === undefined ? {} : { sshKeys }), ...(env === undefined ? {} : { env }) });
      res.status(201).location(`/v1/containers/${record.id}`).json(presentContainer(record));
    })
    .all(methodNotAllowed(['GET', 'POST']));

  router
    .route('/:id')
    .get(async (req, res) => {
      res.json(presentContainer(await service.get(req.params.id as string)));
    })
    .patch(async (req, res) => {
      const { status } = parseFields(patchContainerSchema, req);
      res.json(presentContainer(await service.changeStatus(req.params.id as string, status)));
    })
    .delete(async (req, res) => {
      await service.requestDelete(req.params.id as string);
      res.status(204).end();
    })
    .all(methodNotAllowed(['GET', 'PATCH', 'DELETE']));

  return router;
}
