import { z } from 'zod';
import { imageReference } from './containers.schemas.js';

/** `POST /v1/images`: the image to pull, nothing else. */
export const pullImageSchema = z.strictObject({ image: imageReference });

/** `DELETE /v1/images/<reference>` (URL-encoded). */
export const imagePathSchema = z.object({ reference: imageReference });
