// A session's open streams by id. Client stream ids are odd and only rise, and unary calls mostly end in
// the order they started, so the calls sit in a ring indexed by id / 2: 8 bytes a stream in flight (plus
// the ring's unused half at worst) instead of a Map entry (~46 B), and a lookup is an array read. A stream
// that stays open while many later ones come and go would stretch the ring over all the ids between: once
// the ring would be mostly empty, the oldest streams move to a Map of their own (stragglers) instead.

const MIN_SLOTS = 16;
/** Below this size the ring just doubles (stragglers are not worth it). */
const EVICT_FROM = 1024;

export class StreamTable<T extends object> {
  /** Power-of-two ring; the stream `id` sits at (id >>> 1) & #mask while #low <= id < #end. */
  #ring: (T | undefined)[] = new Array<T | undefined>(MIN_SLOTS).fill(undefined);
  #mask = MIN_SLOTS - 1;
  /** The lowest id the ring covers (odd); open streams below it are in #stragglers. */
  #low = 1;
  /** One step past the highest id added. */
  #end = 1;
  /** Streams in the ring. */
  #inRing = 0;
  #stragglers: Map<number, T> | undefined;

  get size(): number {
    return this.#inRing + (this.#stragglers?.size ?? 0);
  }

  get(id: number): T | undefined {
    if (id >= this.#low) return id < this.#end ? this.#ring[(id >>> 1) & this.#mask] : undefined;
    return this.#stragglers?.get(id);
  }

  /** Adds stream `id`, higher than every id added before (odd). */
  add(id: number, value: T): void {
    if (id < this.#end || (id & 1) === 0) throw new Error(`stream id ${id} is not a new odd id (next is ${this.#end})`);
    if (this.#inRing === 0) this.#low = id;
    while ((id - this.#low) >>> 1 > this.#mask) this.#makeRoom(id);
    this.#ring[(id >>> 1) & this.#mask] = value;
    this.#end = id + 2;
    this.#inRing++;
  }

  delete(id: number): void {
    if (id < this.#low) {
      const s = this.#stragglers;
      if (s !== undefined && s.delete(id) && s.size === 0) this.#stragglers = undefined;
      return;
    }
    if (id >= this.#end) return;
    const ring = this.#ring;
    const mask = this.#mask;
    const i = (id >>> 1) & mask;
    if (ring[i] === undefined) return;
    ring[i] = undefined;
    this.#inRing--;
    if (this.#inRing === 0) {
      this.#low = this.#end;
      // A burst's ring is given back once it is empty.
      if (ring.length > EVICT_FROM) {
        this.#ring = new Array<T | undefined>(MIN_SLOTS).fill(undefined);
        this.#mask = MIN_SLOTS - 1;
      }
      return;
    }
    if (id !== this.#low) return;
    let low = id + 2;
    while (ring[(low >>> 1) & mask] === undefined) low += 2;
    this.#low = low;
  }

  /** Every stream, stragglers first, then by rising id. */
  values(): T[] {
    const out: T[] = this.#stragglers === undefined ? [] : [...this.#stragglers.values()];
    const ring = this.#ring;
    const mask = this.#mask;
    for (let id = this.#low; id < this.#end; id += 2) {
      const v = ring[(id >>> 1) & mask];
      if (v !== undefined) out.push(v);
    }
    return out;
  }

  clear(): void {
    this.#ring = new Array<T | undefined>(MIN_SLOTS).fill(undefined);
    this.#mask = MIN_SLOTS - 1;
    this.#low = this.#end;
    this.#inRing = 0;
    this.#stragglers = undefined;
  }

  /** Room for `id`: a ring twice the size, or (a mostly empty large ring) the oldest streams out of it. */
  #makeRoom(id: number): void {
    const ring = this.#ring;
    if (ring.length < EVICT_FROM || this.#inRing * 2 >= ring.length) {
      const bigger = new Array<T | undefined>(ring.length * 2).fill(undefined);
      const mask = bigger.length - 1;
      for (let at = this.#low; at < this.#end; at += 2) {
        const v = ring[(at >>> 1) & this.#mask];
        if (v !== undefined) bigger[(at >>> 1) & mask] = v;
      }
      this.#ring = bigger;
      this.#mask = mask;
      return;
    }
    // Move the streams below the lowest id that lets `id` fit to the stragglers (at most the ring's length of steps).
    const mask = this.#mask;
    const s = (this.#stragglers ??= new Map());
    const fitLow = id - 2 * mask;
    const stop = Math.min(fitLow, this.#end);
    for (let at = this.#low; at < stop; at += 2) {
      const i = (at >>> 1) & mask;
      const v = ring[i];
      if (v !== undefined) {
        s.set(at, v);
        ring[i] = undefined;
        this.#inRing--;
      }
    }
    // The ring starts at its oldest stream still in it (or at `id` when none is left).
    let low = fitLow;
    if (this.#inRing === 0) low = id;
    else while (ring[(low >>> 1) & mask] === undefined) low += 2;
    this.#low = low;
  }
}
