// server/actions.ts: the weather extension's actions, called from its client code as
// `actions:current` and `actions:forecast`. The API key lives in the WEATHER_API_KEY
// secret: `lumio env set WEATHER_API_KEY` (read from standard input).
import { action, v } from "@zaflun/lumio-sdk/server";
import type { ActionCtx } from "@zaflun/lumio-sdk/server";
import { days, temperature, type Units } from "./lib/format";
import { getJson, query } from "./lib/http";

/** The weather API key, or a helpful error if it is not set (the seed's null check). */
function apiKey(ctx: ActionCtx): string {
  const key = ctx.secrets.get("WEATHER_API_KEY");
  if (!key) {
    throw new Error("WEATHER_API_KEY is not configured. Add it in the extension dashboard.");
  }
  return key;
}

/** `v.optional(...)` fields arrive as `undefined` when the client leaves them out. */
function unitsOf(imperial: boolean | undefined): Units {
  return imperial ? "imperial" : "metric";
}

// The current weather at a place.
export const current = action({
  args: {
    location: v.object({ lat: v.number(), lon: v.number() }),
    imperial: v.optional(v.boolean()),
  },
  handler: async (ctx, args) => {
    const { lat, lon } = args.location;
    const data = await getJson(ctx, apiKey(ctx), `/current${query({ lat, lon })}`);
    console.log(`current weather for ${lat},${lon}: ${data.condition}`);
    return {
      condition: String(data.condition),
      temperature: temperature(Number(data.temp_c), unitsOf(args.imperial)),
    };
  },
});

// The forecast for the next few days (3 unless the client asks for another number).
export const forecast = action({
  args: {
    location: v.object({ lat: v.number(), lon: v.number() }),
    days: v.optional(v.number()),
    imperial: v.optional(v.boolean()),
  },
  handler: async (ctx, args) => {
    const { lat, lon } = args.location;
    const wanted = Math.min(Math.max(Math.floor(args.days ?? 3), 1), 14);
    const data = await getJson(ctx, apiKey(ctx), `/forecast${query({ lat, lon, days: wanted })}`);
    return { days: days(data.days ?? [], unitsOf(args.imperial), wanted) };
  },
});
