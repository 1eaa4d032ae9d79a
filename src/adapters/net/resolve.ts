import { lookup } from 'node:dns/promises';

/**
 * The addresses a host name stands for, as the engine would resolve it (the system's resolver), bounded in
 * time; none when it cannot be resolved (the engine then fails to reach it as well). An address is itself.
 */
export async function resolveHost(host: string, timeoutMs = 2000): Promise<readonly string[]> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<readonly string[]>((resolve) => {
    timer = setTimeout(() => resolve([]), timeoutMs);
  });
  const found = lookup(host, { all: true, verbatim: true }).then(
    (entries) => entries.map((entry) => entry.address),
    () => [],
  );
  try {
    return await Promise.race([found, late]);
  } finally {
    clearTimeout(timer);
  }
}
