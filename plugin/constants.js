// Constants of the server plugin's hot path shared by its modules.
/** The request header `chat.headers` sets and the fetch patch consumes. */
export const MARKER = "x-opencode-balancer-request";
export const COMMAND = "balancer";
export const TOOL = "balancer_command";
/** First bytes of a non-2xx body reported to fetch.result. */
export const BODY_PEEK_BYTES = 4096;
/** How long the `fetch.begin` answer that came with `chat.headers` stays good for the fetch. */
export const HELD_FRESH_MS = 5000;
/** Openings asked ahead and dropped unused, told to the sidecar with the next chat.headers. */
export const MAX_UNUSED = 256;
/** Answers held for requests not yet sent (a request opencode never sent is dropped, oldest first). */
export const MAX_HELD = 256;
/** The request a provider's first `chat.headers` expects: opencode's SDKs send a bearer. */
export const FIRST_SHAPE = { headerNames: ["authorization"], authorization: "bearer" };
/** The sidecar enforces maxAttempts (≤ 10); this only stops a runaway loop. */
export const HARD_MAX_ATTEMPTS = 10;
export const RUNTIME_KEY = Symbol.for("opencode-balancer.plugin.runtime");
