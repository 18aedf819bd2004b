// server/functions.ts
import { action, v } from "@zaflun/lumio-sdk/server";
export const callExternalApi = action({
  args: { query: v.string() },
  handler: async (ctx, args) => {
    // Read the secret by name
    const apiKey = ctx.secrets.get("MY_API_KEY");
    if (!apiKey) {
      throw new Error("MY_API_KEY is not configured. Add it in the extension dashboard.");
    }
    const res = await ctx.fetch("https://api.example.com/search", {
      method: "POST",
      headers: {
        "Authorization": `Bearer ${apiKey}`,
        "Content-Type": "application/json",
      },
      body: JSON.stringify({ query: args.query }),
    });
    return res.json();
  },
});

// WRONG: never return secret values
export const badAction = action({
  args: {},
  handler: async (ctx) => {
    const key = ctx.secrets.get("API_KEY");
    return { apiKey: key }; // exposes the key to the browser!
  },
});

// Correct: use the secret server-side only
export const goodAction = action({
  args: { query: v.string() },
  handler: async (ctx, args) => {
    const key = ctx.secrets.get("API_KEY");
    const res = await ctx.fetch(`https://api.example.com/q=${args.query}`, {
      headers: { "Authorization": `Bearer ${key}` },
    });
    return res.json(); // return API result, not the key
  },
});
