/**
 * NOTIFY carries at most 8000 bytes. A longer payload is split into several signals that each make sense alone: a
 * JSON array into smaller arrays, a comma-separated list into shorter lists; anything else is sent empty ("something
 * changed": listeners read the store, as they do when they poll).
 */
const MAX_BYTES = 7900;

export function splitPayload(payload: string): string[] {
  if (Buffer.byteLength(payload) <= MAX_BYTES) return [payload];
  if (payload.startsWith('[')) {
    let items: unknown[] | undefined;
    try {
      const v: unknown = JSON.parse(payload);
      if (Array.isArray(v)) items = v;
    } catch {
      items = undefined;
    }
    if (items)
      return pack(
        items.map((i) => JSON.stringify(i)),
        (parts) => `[${parts.join(',')}]`,
      );
  }
  if (!payload.includes(',')) return [''];
  return pack(payload.split(','), (parts) => parts.join(','));
}

function pack(parts: string[], join: (parts: string[]) => string): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  let bytes = 2;
  for (const p of parts) {
    const b = Buffer.byteLength(p) + 1;
    if (b + 2 > MAX_BYTES) continue; // one item alone too big: dropped (listeners also poll)
    if (bytes + b > MAX_BYTES) {
      out.push(join(cur));
      cur = [];
      bytes = 2;
    }
    cur.push(p);
    bytes += b;
  }
  if (cur.length) out.push(join(cur));
  return out.length ? out : [''];
}
