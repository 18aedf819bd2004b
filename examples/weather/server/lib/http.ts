// The one place that talks to the weather API. The key is only ever put in the
// Authorization header of ctx.fetch: it is never logged, thrown or returned.
import type { ActionCtx } from "@zaflun/lumio-sdk/server";

/** Where the weather API lives. */
export const API_BASE = "https://api.weather.example/v1";

/** GETs `path` (with its query string) from the weather API and returns its JSON. */
export async function getJson(ctx: ActionCtx, apiKey: string, path: string): Promise<any> {
  const res = await ctx.fetch(`${API_BASE}${path}`, {
    headers: {
      "Authorization": `Bearer ${apiKey}`,
      "Accept": "application/json",
    },
  });
  if (!res.ok) {
    // Only the status: an error page might echo the request, headers included.
    throw new Error(`The weather API answered ${res.status} ${res.statusText}.`);
  }
  return res.json();
}

/** `?a=1&b=x`, with every value URL-encoded. */
export function query(params: Record<string, string | number>): string {
  const pairs = Object.entries(params).map(
    ([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`,
  );
  return pairs.length > 0 ? `?${pairs.join("&")}` : "";
}
