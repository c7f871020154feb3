import { TrineError } from '@trine/core';

export const PAGE = 65536;
/** wasm32 can address at most 65536 pages = 4 GiB. */
export const MAX_PAGES = 65536;
/** The module's own static data (math tables) lives below this; host allocations start here. */
const RESERVED = PAGE;
const ALIGN = 64;

interface Block {
  ptr: number;
  size: number;
}

/**
 * The host-side allocator of the kernel module's linear memory: first fit over a sorted free list, bump from the
 * top otherwise, growing the memory in pages. Every request is checked against the budget (the memory's maximum,
 * or a smaller configured limit) before anything is allocated, so a model that cannot fit fails with
 * BUDGET_EXCEEDED instead of a RangeError half-way through loading.
 */
export class Heap {
  private top = RESERVED;
  /** Highest address ever handed out: memory above it has never been written since grow zeroed it. */
  private highWater = RESERVED;
  private readonly free: Block[] = [];
  private u8view: Uint8Array | null = null;
  private viewBuffer: ArrayBufferLike | null = null;
  /** Bytes in live allocations. */
  used = 0;

  constructor(
    readonly memory: WebAssembly.Memory,
    /** The most bytes of linear memory this heap may use. */
    readonly limitBytes: number,
  ) {}

  /** A view of the whole memory, recreated after the memory grew (growing detaches or replaces the buffer). */
  get u8(): Uint8Array {
    const buf = this.memory.buffer;
    if (buf !== this.viewBuffer || !this.u8view || this.u8view.byteLength !== buf.byteLength) {
      this.u8view = new Uint8Array(buf);
      this.viewBuffer = buf;
    }
    return this.u8view;
  }

  get buffer(): ArrayBufferLike {
    return this.memory.buffer;
  }

  /** Allocate `bytes` (64-byte aligned); `what` names the request in the BUDGET_EXCEEDED message. */
  alloc(bytes: number, what: string): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new TrineError('INVALID_ARGUMENT', `${what}: bad allocation size ${bytes}`, { field: what });
    }
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!;
      if (b.size >= size) {
        const ptr = b.ptr;
        if (b.size === size) this.free.splice(i, 1);
        else {
          b.ptr += size;
          b.size -= size;
        }
        this.used += size;
        return ptr;
      }
    }
    const end = this.top + size;
    if (end > this.limitBytes) {
      throw new TrineError(
        'BUDGET_EXCEEDED',
        `wasm backend: ${what} needs ${fmt(size)} more, but ${fmt(this.used)} of the ${fmt(this.limitBytes)} ` +
          'wasm32 memory limit is in use (a wasm model must fit in 4 GiB; use the cpu or webgpu backend for larger models)',
        { field: what },
      );
    }
    this.ensure(end, what);
    this.top = end;
    this.highWater = Math.max(this.highWater, end);
    this.used += size;
    return end - size;
  }

  /** Allocate and zero `bytes`. Memory fresh from `grow` is already zero, so only reused blocks are cleared (a
   *  large tensor at the top of memory then costs address space, not touched pages). */
  allocZeroed(bytes: number, what: string): number {
    const dirtyEnd = this.highWater;
    const ptr = this.alloc(bytes, what);
    if (ptr < dirtyEnd) this.u8.fill(0, ptr, Math.min(ptr + bytes, dirtyEnd));
    return ptr;
  }

  /** Return an allocation. Adjacent free blocks merge; a block at the top lowers the top. */
  release(ptr: number, bytes: number): void {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    this.used -= size;
    let i = 0;
    while (i < this.free.length && this.free[i]!.ptr < ptr) i++;
    this.free.splice(i, 0, { ptr, size });
    // merge with the next, then the previous
    const cur = this.free[i]!;
    const next = this.free[i + 1];
    if (next && cur.ptr + cur.size === next.ptr) {
      cur.size += next.size;
      this.free.splice(i + 1, 1);
    }
    const prev = this.free[i - 1];
    if (prev && prev.ptr + prev.size === cur.ptr) {
      prev.size += cur.size;
      this.free.splice(i, 1);
      i--;
    }
    const last = this.free[this.free.length - 1];
    if (last && last.ptr + last.size === this.top) {
      this.top = last.ptr;
      this.free.pop();
    }
  }

  private ensure(end: number, what: string): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    try {
      this.memory.grow(pages);
    } catch (e) {
      throw new TrineError(
        'BUDGET_EXCEEDED',
        `wasm backend: the host refused to grow memory to ${fmt(end)} for ${what} (${(e as Error).message})`,
        { field: what, cause: e },
      );
    }
  }
}

function fmt(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
