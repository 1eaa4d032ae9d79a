/** Runs `work(key)` at most once at a time per key; pushes during a run ask for exactly one more run. */
export function serialPerKey(work: (key: string) => Promise<void>, onError: (key: string, error: unknown) => void) {
  const again = new Map<string, boolean>();
  const running = new Set<Promise<void>>();
  return {
    push(key: string): void {
      if (again.has(key)) {
        again.set(key, true);
        return;
      }
      again.set(key, false);
      const rounds = (async () => {
        do {
          again.set(key, false);
          try {
            await work(key);
          } catch (error) {
            onError(key, error);
          }
        } while (again.get(key) === true);
        again.delete(key);
      })();
      running.add(rounds);
      void rounds.finally(() => running.delete(rounds));
    },
    async idle(): Promise<void> {
      while (running.size > 0) await Promise.all(running);
    },
  };
}
