// Types of @zaflun/lumio-sdk/server. The JavaScript beside it (server.js) is what runs.

/**
 * A validator: a serialisable description of a value (`{ kind: "string" }`, ...).
 * `T` is the TypeScript type it accepts; `IsOptional` marks `v.optional(...)` fields.
 */
export interface Validator<T, IsOptional extends "required" | "optional" = "required"> {
  readonly kind: string;
  /** Type-level only: the type this validator accepts. Not present at run time. */
  readonly type: T;
  /** Type-level only: whether an object field with this validator may be missing. */
  readonly isOptional: IsOptional;
}

/** The arguments of an action: field name to validator. */
export type PropertyValidators = Record<string, Validator<any, "required" | "optional">>;

/** The TypeScript type a validator accepts. */
export type Infer<V> = V extends Validator<infer T, any> ? T : never;

type Expand<T> = T extends infer O ? { [K in keyof O]: O[K] } : never;
type OptionalKeys<F extends PropertyValidators> = {
  [K in keyof F]: F[K] extends Validator<any, "optional"> ? K : never;
}[keyof F];
type RequiredKeys<F extends PropertyValidators> = Exclude<keyof F, OptionalKeys<F>>;

/** The object type described by a set of field validators. */
export type ObjectType<F extends PropertyValidators> = Expand<
  { [K in RequiredKeys<F>]: Infer<F[K]> } & { [K in OptionalKeys<F>]?: Infer<F[K]> }
>;

/**
 * Validators for action arguments. Lumio checks a call's arguments against them before the
 * handler runs: a call whose arguments do not match fails with `invalid_args` (HTTP 400,
 * naming the first mismatch, e.g. `args.items[2].id: expected number, got string`), and
 * the handler never sees it. The arguments are JSON, so only JSON values arrive.
 *
 * ```ts
 * action({
 *   args: { query: v.string(), limit: v.optional(v.number()) },
 *   handler: async (ctx, args) => args.query, // args: { query: string; limit?: number }
 * });
 * ```
 */
export declare const v: {
  /** Any JSON string, the empty one included. `{ query: v.string() }` */
  string(): Validator<string>;
  /** Any JSON number, integer or not. `{ amount: v.number() }` */
  number(): Validator<number>;
  /** `true` or `false`. `{ dryRun: v.boolean() }` */
  boolean(): Validator<boolean>;
  /** `null` only. `{ cursor: v.union(v.string(), v.null()) }` */
  null(): Validator<null>;
  /** Any JSON value, unchecked: check it in the handler. `{ payload: v.any() }` */
  any(): Validator<any>;
  /**
   * Exactly this string, number or boolean (numbers compare by value: `1` matches `1.0`).
   * `{ mode: v.union(v.literal("fast"), v.literal("slow")) }`
   */
  literal<T extends string | number | boolean>(value: T): Validator<T>;
  /**
   * An object field that may be left out; when present it must match `inner` (`null` is
   * not "left out": use `v.optional(v.union(v.string(), v.null()))` to allow it).
   * Only meaningful as a field of `args` or `v.object({...})`.
   * `{ limit: v.optional(v.number()) }` gives `args.limit: number | undefined`
   */
  optional<T>(inner: Validator<T, "required">): Validator<T | undefined, "optional">;
  /** An array whose every item matches `items`; empty arrays too. `{ tags: v.array(v.string()) }` */
  array<T>(items: Validator<T, "required">): Validator<T[]>;
  /**
   * An object with exactly these fields: each required unless `v.optional`, and a field
   * not listed is refused (`unexpected field`).
   * `{ location: v.object({ lat: v.number(), lon: v.number() }) }`
   */
  object<F extends PropertyValidators>(fields: F): Validator<ObjectType<F>>;
  /**
   * A value that matches at least one member (at least one is required).
   * `{ id: v.union(v.string(), v.number()) }`
   */
  union<M extends [Validator<any, "required">, ...Validator<any, "required">[]]>(
    ...members: M
  ): Validator<Infer<M[number]>>;
};

/**
 * The extension's secrets for the environment the action runs in (staging or
 * production), as set with `lumio env set NAME` or the dashboard. `Names` is the action's
 * grant list (`secrets: [...]`) when it declares one, else any string.
 */
export interface Secrets<Names extends string = string> {
  /**
   * The secret's current value, or `null` if no secret of that name is set in this
   * environment (check for it: `if (!key) throw new Error("KEY is not configured")`).
   * Always the current value: `lumio env set` again and the next call sees it, no redeploy.
   *
   * - Every call, found or not, is recorded in the extension's audit log (`secret.get`,
   *   `lumio audit`); read each secret once per invocation and reuse the value (at most
   *   10,000 calls per invocation, then `limit_exceeded`).
   * - In an action that declares `secrets: [...]`, a name outside that list throws
   *   (`secret_denied`, naming the name and the list) and is recorded as `secret.denied`;
   *   TypeScript rejects such a name too.
   * - A name that is not a valid secret name throws a `TypeError`.
   * - The value must not leave the action: returning it fails the call (`secret_leak`,
   *   nothing returned), `console.*` output shows it masked, and `ctx.fetch` refuses to
   *   send it to a host its binding does not allow (`fetch_refused`).
   *
   * ```ts
   * const key = ctx.secrets.get("STRIPE_KEY"); // string | null
   * ```
   */
  get(name: Names): string | null;
}

/** Options of `ctx.fetch`. */
export interface FetchInit {
  /** `GET` (the default), `POST`, `PUT`, `PATCH`, `DELETE`, ... */
  method?: string;
  /** Request headers by name, e.g. `{ "Content-Type": "application/json" }`. */
  headers?: Record<string, string>;
  /** The request body, as text: `JSON.stringify(...)` for a JSON API. */
  body?: string;
}

/** Headers of a fetch response; names are case-insensitive. */
export interface FetchHeaders {
  get(name: string): string | null;
  has(name: string): boolean;
  forEach(callback: (value: string, name: string) => void): void;
}

/**
 * The response of `ctx.fetch`: any HTTP status resolves (check `ok`); only a refused or
 * failed request rejects. Its body has been read in full (at most 5 MiB), as text.
 */
export interface FetchResponse {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly url: string;
  readonly headers: FetchHeaders;
  text(): Promise<string>;
  json(): Promise<any>;
}

/** What an action's handler gets as its first argument. */
export interface ActionCtx<Names extends string = string> {
  /** Secrets of this extension and environment. Only readable on the server. */
  readonly secrets: Secrets<Names>;
  /**
   * An HTTP(S) request from the server to an external service, like the web's `fetch`
   * with text bodies. Resolves with the response for any HTTP status (check `res.ok`);
   * rejects with an `Error` whose `code` says why, and which the handler may catch:
   *
   * - `fetch_refused`: nothing was sent, because
   *   - the URL is not `http:` or `https:`, or its host is (or resolves to) a private,
   *     loopback, link-local or otherwise non-public address (`127.0.0.1`, `10.x`,
   *     `192.168.x`, `169.254.169.254`, `::1`, ...), checked again at every redirect:
   *     only a server started with `lumio server --allow-private-fetch` (local
   *     development, tests) lets those through; or
   *   - the request (URL, headers, body, or what a redirect would send again) carries
   *     the value of a secret bound to hosts with `lumio env set NAME --allow-host HOST`
   *     (or `lumio env bind NAME --allow-host HOST`), and the host is not one of them.
   *     That refusal is recorded in the audit log as `egress.blocked`.
   * - `fetch_failed`: the URL, method or a header is not valid, the name did not
   *   resolve, the connection was refused or closed, the TLS certificate is not trusted,
   *   no complete answer came within the timeout, or the response body is larger than
   *   the cap.
   *
   * An action that does not catch the error fails with that code (`lumio run` exits 7).
   * Error messages name the host, never the URL's path or query.
   *
   * Limits: 10 s per request (connecting at most 5 s of it), response bodies up to
   * 5 MiB, at most 10 redirects (each checked like the first URL); the invocation's
   * 30 s wall-time limit covers all of its requests. Waiting for a response does not
   * count towards the invocation's 1 s of CPU time. There is no limit on the number of
   * requests other than that time.
   *
   * ```ts
   * const res = await ctx.fetch("https://api.example.com/search", {
   *   method: "POST",
   *   headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
   *   body: JSON.stringify({ query: args.query }),
   * });
   * if (!res.ok) throw new Error(`the API answered ${res.status}`);
   * return res.json();
   * ```
   */
  fetch(url: string, init?: FetchInit): Promise<FetchResponse>;
}

/**
 * What a grant list that TypeScript cannot read name by name is checked against: a list
 * typed `string[]` (e.g. `const names: string[] = [...]`) would let `ctx.secrets.get`
 * accept any name, so it is a type error. Write the names in place (`secrets: ["A"]`) or
 * keep them in a constant with `as const` (`const names = ["A"] as const`).
 */
export interface GrantsMustBeLiteral {
  /** Not a real property: its name is the error message TypeScript shows. */
  readonly "secrets must list the names literally: secrets: ['A'] or a list declared as const, not a string[]": never;
}

/**
 * `Grants` itself when TypeScript knows each name of it, else {@link GrantsMustBeLiteral}
 * (a `string[]` list, or one holding a `string`).
 */
export type LiteralGrants<Grants extends readonly string[]> = string extends Grants[number]
  ? GrantsMustBeLiteral
  : Grants;

/**
 * The definition passed to `action()`. `Grants` is the tuple of secret names the action
 * may read (`secrets: ["STRIPE_KEY"]`); without `secrets` it may read every secret of
 * its extension and environment.
 */
export interface ActionDefinition<
  Args extends PropertyValidators,
  Returns,
  Grants extends readonly string[] = readonly string[],
> {
  /** The arguments clients pass, as validators: `{ query: v.string() }`. */
  args: Args;
  /**
   * The only secrets this action may read: `ctx.secrets.get` of any other name throws
   * (`secret_denied`) and is audited as `secret.denied`. Enforced by the runtime, which
   * reads the list when `lumio deploy` loads the module (so a list built by code at the
   * top of the module works there, as long as it is an array of strings); TypeScript
   * also rejects other names, which needs names it can see: a list typed `string[]` is
   * a type error ({@link GrantsMustBeLiteral}). `secrets: []` allows none. Without
   * `secrets`, the action may read every secret of its extension and environment.
   */
  secrets?: Grants & LiteralGrants<Grants>;
  /**
   * Runs for each call, with `ctx` (secrets, fetch) and the checked arguments. What it
   * returns (or its promise resolves to) is sent to the caller as JSON; a returned or
   * logged secret value is stopped (`secret_leak`). A thrown error fails the call
   * (`action_error`) with its message.
   */
  handler: (ctx: ActionCtx<Grants[number]>, args: ObjectType<Args>) => Returns;
}

/** An action, as returned by `action()` and exported from a `server/*.ts` module. */
export interface RegisteredAction<
  Args extends PropertyValidators,
  Returns,
  Grants extends readonly string[] = readonly string[],
> {
  readonly args: Args;
  readonly secrets?: Grants;
  readonly handler: (ctx: ActionCtx<Grants[number]>, args: ObjectType<Args>) => Returns;
}

/**
 * Declares an action: a server function that clients call by name
 * (`module:export`, e.g. `functions:callExternalApi`). With `secrets: [...]`,
 * `ctx.secrets.get` accepts only those names.
 */
export declare function action<
  Args extends PropertyValidators,
  Returns,
  const Grants extends readonly string[] = readonly string[],
>(definition: ActionDefinition<Args, Returns, Grants>): RegisteredAction<Args, Returns, Grants>;

/** True for a value made by `action()`. */
export declare function isAction(
  value: unknown,
): value is RegisteredAction<PropertyValidators, unknown, readonly string[]>;

// The globals Lumio's runtime gives every action beside the language's own (no DOM, no
// Node.js), so a project with `"lib": ["ES2022"]` and no other types can use them. They
// are declared to merge with lib.dom's or @types/node's, should a project include those.
declare global {
  /**
   * Console output of an invocation, kept (at most 64 KiB) and shown by `lumio logs`,
   * with secret values masked.
   */
  interface Console {
    log(...data: any[]): void;
    info(...data: any[]): void;
    debug(...data: any[]): void;
    warn(...data: any[]): void;
    error(...data: any[]): void;
  }
  var console: Console;
  /** Runs `callback` after `ms` milliseconds, within the invocation's 30 s wall time. */
  function setTimeout(callback: (...args: any[]) => void, ms?: number, ...args: any[]): number;
  /** Runs `callback` every `ms` milliseconds (at least 1), within the invocation's wall time. */
  function setInterval(callback: (...args: any[]) => void, ms?: number, ...args: any[]): number;
  function clearTimeout(id: number | undefined): void;
  function clearInterval(id: number | undefined): void;
  /** Base64 of a string whose characters are all Latin-1. */
  function btoa(data: string): string;
  /** The string a base64 text encodes. */
  function atob(data: string): string;
}
