// V2's providers told to the sidecar (`providers.describe`, and `api` on chat.headers): SDK family, base URL, configured headers.
//
// The sidecar moves a request to the next provider with the same API only when it knows both
// providers' SDK packages and the target's base URL (docs/protocol.md, "Keeping a turn going").
// V1 tells it from opencode's config hook; V2 has `ctx.provider.list()`
// (`{data: [{id, package, settings: {baseURL, headers?}}]}`, seen with 2.1.2), whose packages are
// V2's own (`@opencode/ai/providers/openai-compatible` for a config's `@ai-sdk/openai-compatible`)
// or an AI SDK package as `aisdk:<npm>`; they are told as the npm names the sidecar knows.

import { errorText, isObject, isStringRecord } from "../../common/util.js";

/** V2's providers that speak what an npm package of the AI SDK speaks, by V2 package name. */
const NATIVE = /^@opencode(?:-ai)?\/ai\/providers\/([a-z0-9-]+)$/;

/** The npm package name the sidecar knows for a V2 provider package, or undefined. */
export function npmOf(pkg) {
  if (typeof pkg !== "string" || pkg === "") return undefined;
  if (pkg.startsWith("aisdk:")) return pkg.slice("aisdk:".length) || undefined;
  const native = NATIVE.exec(pkg);
  if (!native) return undefined;
  return native[1] === "openrouter" ? "@openrouter/ai-sdk-provider" : `@ai-sdk/${native[1]}`;
}

/** `providers.describe`'s entries from `provider.list()`'s answer. */
export function describedProviders(list) {
  const data = Array.isArray(list?.data) ? list.data : Array.isArray(list) ? list : [];
  const out = [];
  for (const p of data) {
    if (!isObject(p) || typeof p.id !== "string" || p.id === "") continue;
    const entry = { providerID: p.id };
    const npm = npmOf(p.package);
    if (npm) entry.npm = npm;
    const settings = isObject(p.settings) ? p.settings : {};
    if (typeof settings.baseURL === "string" && settings.baseURL !== "") entry.baseURL = settings.baseURL;
    if (isStringRecord(settings.headers) && Object.keys(settings.headers).length > 0) entry.headers = settings.headers;
    if (entry.npm || entry.baseURL) out.push(entry);
  }
  return out;
}

/**
 * The providers of this V2 process, read once (lazily: at `setup` a config-defined provider may not
 * be known yet) and told to the sidecar. `api(providerID)` is what chat.headers carries for it.
 */
export class Providers {
  constructor(ctx, deps) {
    this.ctx = ctx;
    this.deps = deps;
    this.byID = new Map();
    this.loading = null;
  }

  /** Reads and describes them once; never rejects. */
  load() {
    if (!this.loading) {
      this.loading = (async () => {
        if (typeof this.ctx?.provider?.list !== "function") return;
        const described = describedProviders(await this.ctx.provider.list());
        for (const entry of described) this.byID.set(entry.providerID, entry);
        if (described.length > 0) await this.deps.call("providers.describe", { providers: described });
      })().catch((e) => this.deps.log(`could not describe V2's providers (${errorText(e)})`));
    }
    return this.loading;
  }

  /** `{npm?, baseURL?}` of a provider, or null. */
  api(providerID) {
    const p = this.byID.get(providerID);
    if (!p) return null;
    const api = {};
    if (p.npm) api.npm = p.npm;
    if (p.baseURL) api.baseURL = p.baseURL;
    return api.npm || api.baseURL ? api : null;
  }
}
