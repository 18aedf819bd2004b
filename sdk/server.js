// @zaflun/lumio-sdk/server: the one definition of `action` and `v`.
// The Lumio runtime embeds this very file, so what `tsc` checks is what runs.
// Validators are plain, serialisable descriptions ({ kind: "string" }, ...): the
// runtime reads them at deploy and checks arguments before a handler runs.

const ACTION = "lumio.action/v1";

// Captured when this module is first evaluated (at deploy the runtime evaluates it before
// any module of the upload), so a helper module that later replaces a global cannot change
// how an action's grants are written.
const { freeze, defineProperty } = Object;
const { isArray } = Array;
const ACTION_KEY = Symbol.for(ACTION);

function checkValidator(value, where) {
  if (value === null || typeof value !== "object" || typeof value.kind !== "string") {
    throw new TypeError(`${where} is not a validator; use v.string(), v.number(), ...`);
  }
  return value;
}

/** Validators for action arguments. */
export const v = Object.freeze({
  string: () => freeze({ kind: "string" }),
  number: () => freeze({ kind: "number" }),
  boolean: () => freeze({ kind: "boolean" }),
  null: () => freeze({ kind: "null" }),
  any: () => freeze({ kind: "any" }),
  literal: (value) => {
    const type = typeof value;
    if (type !== "string" && type !== "number" && type !== "boolean") {
      throw new TypeError("v.literal() takes a string, number or boolean");
    }
    return freeze({ kind: "literal", value });
  },
  optional: (inner) => freeze({ kind: "optional", inner: checkValidator(inner, "v.optional()'s argument") }),
  array: (items) => freeze({ kind: "array", items: checkValidator(items, "v.array()'s argument") }),
  object: (fields) => {
    const checked = {};
    for (const [name, field] of Object.entries(fields ?? {})) {
      checked[name] = checkValidator(field, `field ${name} of v.object()`);
    }
    return freeze({ kind: "object", fields: freeze(checked) });
  },
  union: (...members) => {
    if (members.length === 0) throw new TypeError("v.union() needs at least one member");
    return freeze({
      kind: "union",
      members: freeze(members.map((m, i) => checkValidator(m, `member ${i} of v.union()`))),
    });
  },
});

/**
 * Declares an action: a server function that clients call by name
 * (`module:export`, e.g. `functions:callExternalApi`).
 */
export function action(definition) {
  if (definition === null || typeof definition !== "object") {
    throw new TypeError("action() takes { args, secrets?, handler }");
  }
  const { args = {}, secrets, handler } = definition;
  if (typeof handler !== "function") {
    throw new TypeError("action() needs a handler function: action({ args: {}, handler: async (ctx, args) => ... })");
  }
  const fields = {};
  for (const [name, field] of Object.entries(args)) {
    fields[name] = checkValidator(field, `args.${name}`);
  }
  if (secrets === undefined) {
    return freeze({ [ACTION_KEY]: true, args: freeze(fields), handler });
  }
  // Checked again (and enforced) by the runtime in Rust: this only fails early. Copied
  // with the captured intrinsics and defined, not assigned, so no replaced global or
  // prototype setter decides what the list holds.
  if (!isArray(secrets)) {
    throw new TypeError('action()\'s secrets must be an array of secret names: secrets: ["STRIPE_KEY"]');
  }
  const grants = [];
  for (let i = 0; i < secrets.length; i++) {
    const name = secrets[i];
    if (typeof name !== "string") {
      throw new TypeError('action()\'s secrets must be an array of secret names: secrets: ["STRIPE_KEY"]');
    }
    defineProperty(grants, i, { __proto__: null, value: name, enumerable: true });
  }
  return freeze({ [ACTION_KEY]: true, args: freeze(fields), handler, secrets: freeze(grants) });
}

/** True for a value made by `action()`; the runtime uses it to find exported actions. */
export function isAction(value) {
  return value !== null && typeof value === "object" && value[ACTION_KEY] === true;
}
