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

// A list TypeScript cannot read name by name (`string[]`) would let any name type-check,
// so it is refused (GrantsMustBeLiteral); the runtime would still enforce the list's
// values. Lists declared `as const`, spread together or typed as tuples keep their names.
const wide: string[] = ["MAIL_KEY"];
export const widened = action({
  args: {},
  // @ts-expect-error: a string[] grant list hides its names from TypeScript
  secrets: wide,
  handler: async (ctx) => ctx.secrets.get("MAIL_KEY"),
});

const inferred = ["MAIL_KEY"]; // string[] too: without `as const` the names are lost
export const alsoWidened = action({
  args: {},
  // @ts-expect-error: an array literal held in a plain const is a string[]
  secrets: inferred,
  handler: async (ctx) => ctx.secrets.get("MAIL_KEY"),
});

const mailGrants = ["MAIL_KEY"] as const;
const payGrants = ["STRIPE_KEY"] as const;
export const combined = action({
  args: {},
  secrets: [...mailGrants, ...payGrants],
  handler: async (ctx) => {
    ctx.secrets.get("MAIL_KEY");
    ctx.secrets.get("STRIPE_KEY");
    // @ts-expect-error: not in either list
    ctx.secrets.get("OTHER_KEY");
    return null;
  },
});

const typed: readonly ["MAIL_KEY"] = ["MAIL_KEY"];
export const tupleTyped = action({
  args: {},
  secrets: typed,
  handler: async (ctx) => {
    // @ts-expect-error: a misspelled granted name
    ctx.secrets.get("MAIL_KYE");
    return ctx.secrets.get("MAIL_KEY");
  },
});
