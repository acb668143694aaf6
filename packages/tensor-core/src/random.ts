// mulberry32: a seeded uniform [0, 1) generator whose whole state is one 32-bit integer. Fixed seeds make
// stochastic algorithms reproducible (CaM's Bernoulli draws, LoRA init, dropout, data order), and the
// exposed state lets a resumed job continue the same sequence.
export class Mulberry32 {
  state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). An arrow property, so `random.next` can be passed around unbound. */
  next = (): number => {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded uniform [0, 1) function (mulberry32). */
export function seededRandom(seed: number): () => number {
  return new Mulberry32(seed).next;
}
