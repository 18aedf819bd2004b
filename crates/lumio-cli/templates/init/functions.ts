// server/functions.ts: this extension's actions. Clients call each export by name,
// `functions:<export>`; `lumio deploy` uploads every server/**/*.ts file.
import { action, v } from "@zaflun/lumio-sdk/server";

// Runs as it is: lumio run functions:hello '{"name": "Ada"}'
export const hello = action({
  args: { name: v.string() },
  secrets: [], // reads no secret
  handler: async (_ctx, args) => {
    return { greeting: `Hello, ${args.name}!` };
  },
});

// Reads a secret and calls an API with it (the secrets guide's example). Set the key
// first, `lumio env set MY_API_KEY` (the value is read from standard input), and put
// your API's URL in place of api.example.com.
export const callExternalApi = action({
  args: { query: v.string() },
  secrets: ["MY_API_KEY"], // the only secret this action may read
  handler: async (ctx, args) => {
    // Read the secret by name: null when it is not set. Every read is audited.
    const apiKey = ctx.secrets.get("MY_API_KEY");
    if (!apiKey) {
      throw new Error("MY_API_KEY is not configured: lumio env set MY_API_KEY");
    }
    const res = await ctx.fetch("https://api.example.com/search", {
      method: "POST",
      headers: {
        "Authorization": `Bearer ${apiKey}`,
        "Content-Type": "application/json",
      },
      body: JSON.stringify({ query: args.query }),
    });
    return res.json(); // the API's answer, never the key
  },
});
