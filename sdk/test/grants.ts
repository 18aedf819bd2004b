// Type-level checks of grants: with `secrets: [...]`, ctx.secrets.get accepts only those
// names; without it, any string. The `@ts-expect-error` lines fail the check if the error
// they expect ever disappears.
import { action, v } from "@zaflun/lumio-sdk/server";

export const charge = action({
  args: { amount: v.number() },
  secrets: ["STRIPE_KEY", "STRIPE_ACCOUNT"],
  handler: async (ctx, args) => {
    const key: string | null = ctx.secrets.get("STRIPE_KEY");
    const account: string | null = ctx.secrets.get("STRIPE_ACCOUNT");
    // @ts-expect-error: SENDGRID_KEY is not in this action's secrets
    ctx.secrets.get("SENDGRID_KEY");
    return { charged: args.amount, configured: key !== null && account !== null };
  },
});

const grants = ["MAIL_KEY"] as const;
export const mail = action({
  args: {},
  secrets: grants,
  handler: async (ctx) => {
    ctx.secrets.get("MAIL_KEY");
    // @ts-expect-error: a name built at run time is not a declared name
    ctx.secrets.get(String(Date.now()));
    return null;
  },
});

export const anything = action({
  args: {},
  handler: async (ctx) => {
    const name: string = "ANY_NAME";
    return ctx.secrets.get(name) ?? ctx.secrets.get("OTHER");
  },
});

export const none = action({
  args: {},
  secrets: [],
  handler: async (ctx) => {
    // @ts-expect-error: an empty grant list allows no name at all
    ctx.secrets.get("STRIPE_KEY");
    return null;
  },
});
