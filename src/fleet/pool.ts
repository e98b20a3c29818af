/**
 * Runs `work` for each item, at most `limit` at a time, in order. Before each item starts,
 * `mayStart()` is asked; once it says no, the items not yet started are left (and reported as
 * such), while those running finish. Returns what each started item gave, by position.
 */
export async function runPool<T, R>(items: readonly T[], limit: number, mayStart: () => boolean, work: (item: T) => Promise<R>): Promise<Array<R | undefined>> {
  const results: Array<R | undefined> = items.map(() => undefined);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length && mayStart()) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  return results;
}
