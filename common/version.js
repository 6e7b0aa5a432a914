// The one version constant of the JavaScript side (build.rs and npm/build.mjs read PLUGIN_VERSION here).
export const PLUGIN_ID = "opencode-balancer";
export const PLUGIN_VERSION = "0.3.0";
export const BINARY_NAME = "opencode-balancer";
/** The `protocolVersion` this plugin speaks; a sidecar answering another one is not used. */
export const PROTOCOL_VERSION = 1;
