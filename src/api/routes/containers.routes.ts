import { pipeline } from 'node:stream';
import { Router, type Response } from 'express';
import type { Consistency } from '../../domain/containers/consistency.js';
import type { ContainerRequests } from '../../domain/containers/requests.js';
import { methodNotAllowed } from '../middleware/errors.js';
import { clientGone, type OpenStreams } from '../middleware/streams.js';
import { parseFields, parseInput } from '../middleware/validate.js';
import { presentContainer, type Present } from '../presenters/container.presenter.js';
import { createListCache } from '../presenters/list-cache.js';
import { createContainerSchema, logsSchema, listContainersSchema, patchContainerSchema } from './containers.schemas.js';

export function containersRoutes(
  requests: ContainerRequests,
  consistency: Pick<Consistency, 'reconcileAll'>,
  present: Present = (record) => presentContainer(record),
  streams?: OpenStreams,
): Router {
  const router = Router();
  const listBody = createListCache(requests, present);
  // Every record is processed; how many corrections failed (each is logged) is told, not hidden.
  const audit = async (res: Response) => {
    const { records, failures } = await consistency.reconcileAll();
    res.set('X-Audit-Failures', String(failures)).json(records.map(present));
  };

  // A full id, or a unique prefix of at least 4 characters; what follows sees the full id.
  router.param('id', async (req, _res, next, id: string) => {
    req.params.id = await requests.resolveId(id);
    next();
  });

  router
    .route('/')
    .get(async (req, res) => {
      const { audit: auditFirst } = parseInput(listContainersSchema, { audit: req.query.audit });
      if (auditFirst === 'true') return audit(res);
      res.set('Content-Type', 'application/json; charset=utf-8').send(await listBody());
    })
    .post(async (req, res) => {
      const { image, ssh_key: sshKeys, env, wake, stop_after: stopAfter, delete_after: deleteAfter } = parseFields(createContainerSchema, req);
      const record = await requests.create(image, {
        ...(sshKeys === undefined ? {} : { sshKeys }),
        ...(env === undefined ? {} : { env }),
        ...(wake === undefined ? {} : { wake }),
        ...(stopAfter === undefined ? {} : { stopAfter }),
        ...(deleteAfter === undefined ? {} : { deleteAfter }),
      });
      res.status(201).location(`/v1/containers/${record.id}`).json(present(record));
    })
    .all(methodNotAllowed(['GET', 'POST']));

  // The audit: every record re-read from the engine and corrected (also GET /?audit=true, for curl).
  router
    .route('/audit')
    .post(async (_req, res) => {
      await audit(res);
    })
    .all(methodNotAllowed(['POST']));

  // The container's output as text; with follow=true, streamed until it stops or the client goes away.
  router
    .route('/:id/logs')
    .get(async (req, res) => {
      const options = parseInput(logsSchema, req.query);
      const gone = clientGone(res);
      if (gone.aborted) return;
      const output = await requests.logs(req.params.id as string, options, gone).catch((error: unknown) => {
        if (gone.aborted) return undefined;
        throw error;
      });
      if (output === undefined || gone.aborted) {
        // The client left while the engine was asked: nothing is kept open for it.
        output?.destroy();
        return;
      }
      res.status(200).set({ 'Content-Type': 'text/plain; charset=utf-8', 'X-Accel-Buffering': 'no' });
      if (options.follow) {
        res.flushHeaders();
        streams?.add(res);
      }
      // At the reader's pace: a client that reads slowly pauses the engine's stream, not this process's memory.
      pipeline(output, res, () => undefined);
    })
    .all(methodNotAllowed(['GET']));

  router
    .route('/:id')
    .get(async (req, res) => {
      res.json(present(await requests.get(req.params.id as string)));
    })
    .patch(async (req, res) => {
      const { status, extend } = parseFields(patchContainerSchema, req);
      const id = req.params.id as string;
      // A status change first (a start, say), then the extend of what it is then.
      let record = status === undefined ? undefined : await requests.changeStatus(id, status);
      if (extend !== undefined) record = await requests.extend(record?.id ?? id, extend);
      res.json(present(record ?? (await requests.get(id))));
    })
    .delete(async (req, res) => {
      await requests.requestDelete(req.params.id as string);
      res.status(204).end();
    })
    .all(methodNotAllowed(['GET', 'PATCH', 'DELETE']));

  return router;
}
