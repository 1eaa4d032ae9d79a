/**
 * Polls `probe` every 500 ms until it gives a value (not undefined; a throw counts as "not yet") and returns
 * it, or fails naming `what` after `timeoutMs`. For slow, coarse waits (hosts booting, stacks coming up);
 * inside vitest tests prefer expect.poll.
 */
export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
