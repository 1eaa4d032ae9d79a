import { z } from 'zod';

const count = z
  .union([z.string(), z.number()], { error: 'active-connections must be a non-negative integer' })
  .transform(String)
  .pipe(
    z
      .string()
      .trim()
      .regex(/^\d{1,9}$/, 'active-connections must be a non-negative integer'),
  )
  .transform(Number);

/** `active-connections` as documented, or `active` as the original's images sent it. */
export const checkinSchema = z
  .object({
    'active-connections': count.optional(),
    active: count.optional(),
    /** The container's SD_CHECKIN_TOKEN, for senders that cannot set an Authorization header. */
    token: z.string({ error: 'token must be a string' }).min(1).max(200).optional(),
  })
  .transform((f, ctx) => {
    const active = f['active-connections'] ?? f.active;
    if (active === undefined) {
      ctx.addIssue({ code: 'custom', message: 'active-connections is required (a non-negative integer)' });
      return z.NEVER;
    }
    return { active, token: f.token };
  });

/** `Authorization: Bearer <token>`, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer +([\x21-\x7e]{1,200}) *$/i.exec(header ?? '');
  return match?.[1];
}
