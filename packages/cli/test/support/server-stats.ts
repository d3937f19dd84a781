// Reading the server's own count of successful requests, so a test can check what a bench run really sent.
import { createClient } from "@iaas/client";

/** Successful inferences of `model` so far, from the statistics extension of the server at `url`. */
export async function successCount(url: string, model: string): Promise<number> {
  const c = createClient({ url });
  try {
    const [s] = await c.modelStatistics(model);
    return Number(s!.inference_stats.success.count);
  } finally {
    await c.close();
  }
}
