// Small helpers shared by the server and TUI plugins: type checks, settings from the environment, timeouts.
export function isObject(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function isStringRecord(v) {
  return isObject(v) && Object.values(v).every((x) => typeof x === "string");
}

export function optionalStringList(v) {
  return v === undefined || v === null || (Array.isArray(v) && v.every((x) => typeof x === "string"));
}
export function envFlag(name) {
  const v = process.env[name];
  return v !== undefined && v !== "" && v !== "0" && v.toLowerCase() !== "false";
}

export function numberSetting(option, envName, fallback) {
  for (const raw of [option, process.env[envName]]) {
    if (raw === undefined || raw === null || raw === "") continue;
    const n = Number(raw);
    if (Number.isFinite(n) && n >= 0) return n;
  }
  return fallback;
}

export function errorText(e) {
  if (e instanceof Error) return e.message;
  return String(e);
}
/** A promise that settles with `promise` or rejects after `ms`. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
