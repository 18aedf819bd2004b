import { action } from "@zaflun/lumio-sdk/server";

// The runtime's globals beside the language's own, typed by the SDK (lib ES2022, no DOM).
export const globals = action({
  args: {},
  handler: async () => {
    console.log("a line for lumio logs", 1, { a: true });
    const timer: number = setTimeout(() => console.warn("later"), 10);
    clearTimeout(timer);
    const every = setInterval(() => {}, 1000);
    clearInterval(every);
    return atob(btoa("user:password"));
  },
});
