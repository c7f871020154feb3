import { TrineError, invalidArgument, invalidModelFile } from '../errors/index.js';

/**
 * Random access to the bytes of a model file. Readers never ask for the whole file at once: a Node file is read
 * with positional reads on one descriptor (validate and load from the same fd), a browser file is a Uint8Array.
 */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** A display name (file path or `memory`). */
  readonly name: string;
  /**
   * Exactly `length` bytes starting at `offset`; a read past the end is an INVALID_MODEL_FILE error. With `into`
   * (`length` bytes) the bytes land there and `into` is returned: memory a backend adopts without a copy
   * (`KernelBackend.hostMemory`). A source may ignore it; callers use what is returned.
   */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Largest single read a reader may request (2 GiB − 1: the most one typed array / fd read holds portably). */
export const MAX_READ_BYTES = 0x7fff_ffff;

function checkRange(source: ByteSource, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw invalidArgument('read', `bad range offset=${offset} length=${length}`);
  }
  if (length > MAX_READ_BYTES) throw new TrineError('BUDGET_EXCEEDED', `read of ${length} bytes is above ${MAX_READ_BYTES}`);
  if (offset + length > source.size) {
    throw invalidModelFile('file', offset, `truncated: needs ${length} bytes, file is ${source.size} bytes`);
  }
}

/** An in-memory model file (browsers, tests). Reads return views, not copies. */
export class MemoryByteSource implements ByteSource {
  readonly size: number;
  readonly name: string;
  constructor(private readonly bytes: Uint8Array, name = 'memory') {
    this.size = bytes.byteLength;
    this.name = name;
  }
  async read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    checkRange(this, offset, length);
    // A plain Uint8Array view even when given a Node Buffer, so results compare equal across sources.
    const view = new Uint8Array(this.bytes.buffer, this.bytes.byteOffset + offset, length);
    if (into === undefined || into.byteLength !== length) return view;
    into.set(view);
    return into;
  }
  async close(): Promise<void> {}
}

export function isByteSource(x: unknown): x is ByteSource {
  return typeof x === 'object' && x !== null && typeof (x as ByteSource).read === 'function' &&
    typeof (x as ByteSource).size === 'number';
}

/** Minimal shape of node:fs/promises' FileHandle that we use (so this file type-checks without importing node:fs). */
interface FileHandleLike {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  stat(): Promise<{ size: number; isFile(): boolean }>;
  close(): Promise<void>;
}

/**
 * A file on disk, read with positional reads on one descriptor (never loaded whole into the JS heap). Each read
 * re-checks the size so a file truncated after validation is reported, not read as zeros (reliability case 41).
 * node:fs is imported lazily so browser bundles that never call this do not need it.
 */
export class FileByteSource implements ByteSource {
  private closed = false;
  private constructor(private readonly fh: FileHandleLike, readonly size: number, readonly name: string) {}

  static async open(path: string): Promise<FileByteSource> {
    const fs = await import('node:fs/promises');
    let fh: FileHandleLike;
    try {
      fh = (await fs.open(path, 'r')) as unknown as FileHandleLike;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ENOENT') throw new TrineError('NOT_FOUND', `model file not found: ${path}`, { field: 'path', cause: e });
      throw new TrineError('INVALID_ARGUMENT', `cannot open model file ${path}: ${(e as Error).message}`, { field: 'path', cause: e });
    }
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      throw invalidArgument('path', `${path} is not a regular file`);
    }
    return new FileByteSource(fh, st.size, path);
  }

  async read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    if (this.closed) throw invalidArgument('source', `${this.name} is closed`);
    checkRange(this, offset, length);
    const buf = into !== undefined && into.byteLength === length ? into : new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) {
        throw invalidModelFile('file', offset + done, `file shrank after it was opened (expected ${this.size} bytes)`);
      }
      done += bytesRead;
    }
    return buf;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}

/** Open a path as a ByteSource (Node), or pass a ByteSource / Uint8Array through. */
export async function toByteSource(input: string | ByteSource | Uint8Array): Promise<ByteSource> {
  if (typeof input === 'string') return FileByteSource.open(input);
  if (input instanceof Uint8Array) return new MemoryByteSource(input);
  if (isByteSource(input)) return input;
  throw invalidArgument('source', 'expected a path, a Uint8Array or a ByteSource');
}

/**
 * SHA-256 (hex) of a whole source, read in 8 MiB chunks through the same descriptor the model is loaded from, so
 * a hash check against an allowlist covers the bytes actually parsed (reliability.md case 41). Node only.
 */
export async function sha256OfSource(source: ByteSource, chunkBytes = 8 << 20): Promise<string> {
  const { createHash } = await import('node:crypto');
  const h = createHash('sha256');
  for (let at = 0; at < source.size; at += chunkBytes) h.update(await source.read(at, Math.min(chunkBytes, source.size - at)));
  return h.digest('hex');
}

/** Refuse a source whose SHA-256 is not `expected` (hex, case-insensitive). */
export async function verifySha256(source: ByteSource, expected: string): Promise<void> {
  const got = await sha256OfSource(source);
  if (got !== expected.toLowerCase()) {
    throw new TrineError('INVALID_MODEL_FILE', `${source.name}: SHA-256 ${got} is not the expected ${expected}`, { field: 'sha256', offset: 0 });
  }
}
