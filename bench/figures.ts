// Throughput and latency figures of a benchmark: `count` calls by `concurrency` workers, rounds merged.
export interface Figures {
  count: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  latencies: number[];
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function figures(count: number, seconds: number, latencies: number[]): Figures {
  latencies.sort((a, b) => a - b);
  return { count, seconds, perSecond: count / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), latencies };
}

/** Rounds taken together: counts over summed time, percentiles over every latency. */
export function merge(rounds: Figures[]): Figures {
  return figures(
    rounds.reduce((n, r) => n + r.count, 0),
    rounds.reduce((n, r) => n + r.seconds, 0),
    rounds.flatMap((r) => r.latencies),
  );
}

/** `count` calls of `one(i, worker)` by `concurrency` workers, each taking the next call when free. */
export async function measure(count: number, concurrency: number, one: (i: number, worker: number) => Promise<void>): Promise<Figures> {
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = next++; i < count; i = next++) {
        const t0 = performance.now();
        await one(i, worker);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return figures(count, (performance.now() - start) / 1000, latencies);
}
