// --out-shard-size: byte sizes with decimal (K/M/G/T) or binary (Ki/Mi/Gi/Ti) suffixes.
import { UsageError } from '../command';

const units: Record<string, number> = {
  '': 1,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  KI: 2 ** 10,
  MI: 2 ** 20,
  GI: 2 ** 30,
  TI: 2 ** 40,
};

/** '5G' → 5e9, '500M' → 5e8, '2Gi' → 2^31, '1000' → 1000 (a trailing B is allowed). */
export function parseByteSize(text: string, flag = '--out-shard-size'): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?)?B?\s*$/i.exec(text);
  if (!match) throw new UsageError(`${flag}: '${text}' is not a size (e.g. 500M, 5G, 2Gi)`);
  const unit = units[(match[2] ?? '').toUpperCase()] ?? 1;
  const bytes = Math.floor(Number(match[1]) * unit);
  if (!(bytes > 0)) throw new UsageError(`${flag}: size '${text}' must be positive`);
  return bytes;
}
