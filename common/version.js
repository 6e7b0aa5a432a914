// The one version constant of the JavaScript side (build.rs and npm/build.mjs read PLUGIN_VERSION here), and the names the server and TUI plugins share.
export const PLUGIN_ID = "opencode-balancer";
export const PLUGIN_VERSION = "0.3.0";
export const BINARY_NAME = "opencode-balancer";
/** The `protocolVersion` this plugin speaks; a sidecar answering another one is not used. */
export const PROTOCOL_VERSION = 1;
/** The TUI command that opens the dashboard (the server plugin's `/balancer` executes it). */
export const OPEN_COMMAND = "balancer.open";
/** The BroadcastChannel the TUI plugin asks the server plugin a session's account on. */
export const SESSION_CHANNEL = "opencode-balancer.session";
