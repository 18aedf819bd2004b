// Runs first in every fresh context. Builds `console` and the `ctx` of a handler from the
// native functions the runtime passes in; nothing here is shared between invocations.
// A module (strict, and compiled to bytecode once per worker): its default export is
// called with the natives.
export default function (native) {
  const format = (value) => {
    if (typeof value === "string") return value;
    if (value instanceof Error) return value.stack ? `${value}\n${value.stack}` : String(value);
    if (typeof value === "object" && value !== null) {
      try {
        return JSON.stringify(value);
      } catch {
        return String(value);
      }
    }
    return String(value);
  };
  const writer = (level) => (...args) => native.log(level, args.map(format).join(" "));
  globalThis.console = {
    log: writer("info"),
    info: writer("info"),
    debug: writer("debug"),
    warn: writer("warn"),
    error: writer("error"),
  };

  // btoa/atob as in browsers: Latin-1 strings in, Latin-1 strings out.
  const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  globalThis.btoa = (input) => {
    const text = String(input);
    let out = "";
    for (let i = 0; i < text.length; i += 3) {
      const bytes = [text.charCodeAt(i), text.charCodeAt(i + 1), text.charCodeAt(i + 2)];
      if (bytes.some((b) => b > 255)) throw new Error("btoa: the string has characters outside Latin-1");
      const n = (bytes[0] << 16) | ((bytes[1] || 0) << 8) | (bytes[2] || 0);
      out += ALPHABET[(n >> 18) & 63] + ALPHABET[(n >> 12) & 63];
      out += i + 1 < text.length ? ALPHABET[(n >> 6) & 63] : "=";
      out += i + 2 < text.length ? ALPHABET[n & 63] : "=";
    }
    return out;
  };
  globalThis.atob = (input) => {
    const text = String(input).replace(/[\s=]/g, "");
    let out = "";
    let bits = 0;
    let value = 0;
    for (const ch of text) {
      const index = ALPHABET.indexOf(ch);
      if (index < 0) throw new Error("atob: the string is not valid base64");
      value = (value << 6) | index;
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out += String.fromCharCode((value >> bits) & 255);
      }
    }
    return out;
  };

  class Headers {
    #entries;
    constructor(pairs) {
      this.#entries = pairs.map(([name, value]) => [name.toLowerCase(), value]);
    }
    get(name) {
      const wanted = String(name).toLowerCase();
      const values = this.#entries.filter(([n]) => n === wanted).map(([, v]) => v);
      return values.length ? values.join(", ") : null;
    }
    has(name) {
      return this.get(name) !== null;
    }
    forEach(callback) {
      for (const [name, value] of this.#entries) callback(value, name);
    }
  }

  class Response {
    #body;
    constructor(raw) {
      this.status = raw.status;
      this.statusText = raw.statusText;
      this.ok = raw.status >= 200 && raw.status < 300;
      this.url = raw.url;
      this.headers = new Headers(raw.headers);
      this.#body = raw.body;
    }
    async text() {
      return this.#body;
    }
    async json() {
      return JSON.parse(this.#body);
    }
  }

  return function makeCtx() {
    return {
      secrets: {
        get(name) {
          if (typeof name !== "string") throw new TypeError("ctx.secrets.get(name) takes the secret's name as a string");
          return native.secretGet(name);
        },
      },
      async fetch(url, init) {
        const options = init ?? {};
        const headers = [];
        for (const [name, value] of Object.entries(options.headers ?? {})) headers.push([String(name), String(value)]);
        const method = options.method === undefined ? "GET" : String(options.method);
        const body = options.body === undefined || options.body === null ? null : String(options.body);
        return new Response(await native.fetch(String(url), method, headers, body));
      },
    };
  };
}
