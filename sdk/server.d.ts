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

/** Validators for action arguments, checked by Lumio before the handler runs. */
export declare const v: {
  string(): Validator<string>;
  number(): Validator<number>;
  boolean(): Validator<boolean>;
  null(): Validator<null>;
  any(): Validator<any>;
  literal<T extends string | number | boolean>(value: T): Validator<T>;
  optional<T>(inner: Validator<T, "required">): Validator<T | undefined, "optional">;
  array<T>(items: Validator<T, "required">): Validator<T[]>;
  object<F extends PropertyValidators>(fields: F): Validator<ObjectType<F>>;
  union<M extends [Validator<any, "required">, ...Validator<any, "required">[]]>(
    ...members: M
  ): Validator<Infer<M[number]>>;
};

/**
 * The extension's secrets for the environment the action runs in. `Names` is the
 * action's grant list (`secrets: [...]`) when it declares one, else any string.
 */
export interface Secrets<Names extends string = string> {
  /**
   * The secret's current value, or `null` if it is not set. Every call is recorded in
   * the extension's audit log. In an action that declares `secrets`, a name outside
   * that list throws (and is recorded as `secret.denied`).
   */
  get(name: Names): string | null;
}

/** Options of `ctx.fetch`. */
export interface FetchInit {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** Headers of a fetch response; names are case-insensitive. */
export interface FetchHeaders {
  get(name: string): string | null;
  has(name: string): boolean;
  forEach(callback: (value: string, name: string) => void): void;
}

/** The response of `ctx.fetch`. */
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
  /** HTTP(S) requests to external services, with a timeout and a response-size cap. */
  fetch(url: string, init?: FetchInit): Promise<FetchResponse>;
}

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
  args: Args;
  /** The only secrets this action may read; enforced by the runtime, not only here. */
  secrets?: Grants;
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
