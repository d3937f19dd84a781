// Call deadlines of the whole event loop behind one Node timer, instead of a Timeout per call (~190 B a
// call in flight with its argument list; 10,000 calls with a timeoutMs held ~2 MB of timers alone).
//
// Most calls share one timeoutMs, so their deadlines come in the order they are added: those go to a ring
// (insertion order = expiry order; adding is an append, removing a call that ended is a tombstone, and the
// ring's start moves past tombstones at once, so calls that end in about the order they started keep it
// short). A deadline earlier than the ring's last one (a shorter timeoutMs than the calls before it, a
// retry's remaining time) goes to a binary heap instead. The timer is armed for the earliest deadline; a
// call that ends does not re-arm it (the timer finds nothing due and re-arms for the next).
//
// The timer keeps the process alive exactly as long as a call with a deadline is in flight, as the per-call
// timers did: once no such call is left, it is cleared and the queue emptied.

/** What the queue ends: a call with a deadline. */
export interface DeadlineTarget {
  /**
   * Where the queue keeps the target, written by the queue only: 0 while not queued (a new target's value),
   * i + 1 at ring index i, -(j + 1) at heap index j. One small integer: a field costs every call in flight 8 B.
   */
  deadlineSlot: number;
  /** The deadline passed; the target is already out of the queue. */
  deadlinePassed(): void;
}

/** Rings larger than this are given back once empty (a burst's). */
const KEEP_RING = 1024;

function rethrow(e: unknown): never {
  throw e;
}

export class DeadlineQueue {
  /** Ring: targets in deadline order from #head to #tail, undefined where one was removed (tombstones). */
  #ring: (DeadlineTarget | undefined)[] = [];
  #ringDue: number[] = [];
  #head = 0;
  #tail = 0;
  #ringLive = 0;
  /** Heap (by due time): deadlines that came out of order. */
  #heap: DeadlineTarget[] = [];
  #heapDue: number[] = [];
  #timer: NodeJS.Timeout | undefined = undefined;
  /** The time (performance.now()) the timer is armed for. */
  #armedFor = Infinity;
  readonly #fire = (): void => this.#expire();

  /** Deadlines being watched. */
  get size(): number {
    return this.#ringLive + this.#heap.length;
  }

  /** Whether the timer is armed (for tests: none once every call has ended). */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** Ends `target` after `timeoutMs` (from now) unless removed first; target must not be queued already. */
  add(target: DeadlineTarget, timeoutMs: number): void {
    const due = performance.now() + timeoutMs;
    if (this.#head === this.#tail || due >= this.#ringDue[this.#tail - 1]!) this.#append(target, due);
    else this.#heapPush(target, due);
    if (due < this.#armedFor) this.#arm(due);
  }

  /** Forgets `target`'s deadline (the call ended); nothing when it has none. */
  remove(target: DeadlineTarget): void {
    const slot = target.deadlineSlot;
    if (slot === 0) return;
    target.deadlineSlot = 0;
    if (slot > 0) {
      const i = slot - 1;
      this.#ring[i] = undefined;
      this.#ringLive--;
      if (i === this.#head) this.#skipTombstones();
    } else this.#heapRemove(-slot - 1);
    if (this.#ringLive === 0 && this.#heap.length === 0) this.#idle();
  }

  #append(target: DeadlineTarget, due: number): void {
    if (this.#tail === this.#ring.length && this.#tail > 0) this.#makeRoom();
    const i = this.#tail++;
    this.#ring[i] = target;
    this.#ringDue[i] = due;
    this.#ringLive++;
    target.deadlineSlot = i + 1;
  }

  /** The ring is full up to its end: live entries move to its start (when at most half is live) or it grows. */
  #makeRoom(): void {
    const ring = this.#ring;
    const dues = this.#ringDue;
    if (this.#ringLive * 2 > ring.length) {
      // Doubling: a plain push past the end; V8 grows the backing stores itself.
      return;
    }
    let to = 0;
    for (let i = this.#head; i < this.#tail; i++) {
      const t = ring[i];
      if (t === undefined) continue;
      ring[to] = t;
      dues[to] = dues[i]!;
      t.deadlineSlot = to + 1;
      to++;
    }
    for (let i = to; i < this.#tail; i++) ring[i] = undefined;
    this.#head = 0;
    this.#tail = to;
  }

  #skipTombstones(): void {
    const ring = this.#ring;
    let h = this.#head;
    while (h < this.#tail && ring[h] === undefined) h++;
    this.#head = h;
    if (h === this.#tail) this.#emptyRing();
  }

  #emptyRing(): void {
    this.#head = 0;
    this.#tail = 0;
    if (this.#ring.length > KEEP_RING) {
      this.#ring = [];
      this.#ringDue = [];
    }
  }

  /** No deadline left: the timer goes (the process may exit) and the queue is empty. */
  #idle(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
    if (this.#tail !== 0) {
      // Only tombstones are left in the ring.
      for (let i = this.#head; i < this.#tail; i++) this.#ring[i] = undefined;
      this.#emptyRing();
    }
  }

  #arm(due: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedFor = due;
    // Timers count whole milliseconds; firing early only re-arms (see #expire), so a deadline never passes early.
    this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(due - performance.now())));
  }

  /** The timer fired: ends every target whose deadline passed, earliest first, then re-arms for the next. */
  #expire(): void {
    this.#timer = undefined;
    // Calls added by the targets' callbacks meanwhile do not arm the timer: it is armed once, below.
    this.#armedFor = -Infinity;
    const now = performance.now();
    for (;;) {
      const fromRing = this.#head < this.#tail ? this.#ringDue[this.#head]! : Infinity;
      const fromHeap = this.#heap.length > 0 ? this.#heapDue[0]! : Infinity;
      const due = fromRing <= fromHeap ? fromRing : fromHeap;
      if (due > now) break;
      let target: DeadlineTarget;
      if (fromRing <= fromHeap) {
        target = this.#ring[this.#head]!;
        this.#ring[this.#head] = undefined;
        this.#ringLive--;
        this.#skipTombstones();
      } else {
        target = this.#heap[0]!;
        this.#heapRemove(0);
      }
      target.deadlineSlot = 0;
      // A target that throws must not leave the queue half-done: raised again on its own, as from a timer.
      try {
        target.deadlinePassed();
      } catch (e) {
        process.nextTick(rethrow, e);
      }
    }
    if (this.#ringLive === 0 && this.#heap.length === 0) this.#idle();
    else {
      const fromRing = this.#head < this.#tail ? this.#ringDue[this.#head]! : Infinity;
      const fromHeap = this.#heap.length > 0 ? this.#heapDue[0]! : Infinity;
      this.#arm(fromRing <= fromHeap ? fromRing : fromHeap);
    }
  }

  #heapPush(target: DeadlineTarget, due: number): void {
    const heap = this.#heap;
    const dues = this.#heapDue;
    let j = heap.length;
    heap.push(target);
    dues.push(due);
    while (j > 0) {
      const parent = (j - 1) >> 1;
      if (dues[parent]! <= due) break;
      this.#heapPlace(j, heap[parent]!, dues[parent]!);
      j = parent;
    }
    this.#heapPlace(j, target, due);
  }

  #heapRemove(j: number): void {
    const heap = this.#heap;
    const dues = this.#heapDue;
    const lastTarget = heap.pop()!;
    const lastDue = dues.pop()!;
    if (j === heap.length) return;
    // The last entry takes slot j, then moves up or down to its place.
    let at = j;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (dues[parent]! <= lastDue) break;
      this.#heapPlace(at, heap[parent]!, dues[parent]!);
      at = parent;
    }
    if (at === j) {
      const n = heap.length;
      for (;;) {
        const left = 2 * at + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && dues[right]! < dues[left]! ? right : left;
        if (dues[child]! >= lastDue) break;
        this.#heapPlace(at, heap[child]!, dues[child]!);
        at = child;
      }
    }
    this.#heapPlace(at, lastTarget, lastDue);
  }

  #heapPlace(j: number, target: DeadlineTarget, due: number): void {
    this.#heap[j] = target;
    this.#heapDue[j] = due;
    target.deadlineSlot = -(j + 1);
  }
}

/** The event loop's deadline queue (each worker thread has its own module instance, so its own queue). */
export const deadlines = new DeadlineQueue();
