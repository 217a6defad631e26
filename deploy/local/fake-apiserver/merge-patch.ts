// JSON Merge Patch (RFC 7386), what `kubectl patch --type merge` and client-node's
// `PatchStrategy.MergePatch` send: objects merge key by key, `null` deletes a key, anything else
// (arrays included) replaces the target wholesale (RFC 7386 §2).

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is { [k: string]: Json } {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const out: { [k: string]: Json } = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
