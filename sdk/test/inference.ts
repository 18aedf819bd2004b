// Type-level checks of the validators: the handler's `args` type is inferred precisely.
import { action, v, type Infer } from "@zaflun/lumio-sdk/server";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_: T) {}

export const everything = action({
  args: {
    name: v.string(),
    count: v.number(),
    flag: v.optional(v.boolean()),
    nothing: v.null(),
    mode: v.union(v.literal("fast"), v.literal("slow")),
    tags: v.array(v.string()),
    nested: v.object({ id: v.number(), note: v.optional(v.string()) }),
    anything: v.any(),
  },
  handler: async (ctx, args) => {
    assertType<Equal<typeof args.name, string>>(true);
    assertType<Equal<typeof args.count, number>>(true);
    assertType<Equal<typeof args.flag, boolean | undefined>>(true);
    assertType<Equal<typeof args.nothing, null>>(true);
    assertType<Equal<typeof args.mode, "fast" | "slow">>(true);
    assertType<Equal<typeof args.tags, string[]>>(true);
    assertType<Equal<typeof args.nested, { id: number; note?: string | undefined }>>(true);
    const secret: string | null = ctx.secrets.get("X");
    const res = await ctx.fetch("https://example.com", { method: "GET" });
    const status: number = res.status;
    const ok: boolean = res.ok;
    const type: string | null = res.headers.get("content-type");
    const text: string = await res.text();
    return { secret: secret !== null, status, ok, type, text };
  },
});

type Mode = Infer<ReturnType<typeof v.union<[ReturnType<typeof v.literal<"a">>, ReturnType<typeof v.number>]>>>;
assertType<Equal<Mode, "a" | number>>(true);

// @ts-expect-error: args.query is a string, not a number
action({ args: { query: v.string() }, handler: async (_ctx, args) => args.query.toFixed() });
