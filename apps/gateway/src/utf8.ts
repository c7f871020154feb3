/**
 * Invalid UTF-8 detection. Protobuf string decoding replaces bad bytes with U+FFFD, after which a prompt that
 * arrived broken is indistinguishable from one that contains U+FFFD on purpose. So requests are decoded with a
 * BinaryReader whose UTF-8 decoder remembers every string it had to repair; validation then names the field.
 */
import { BinaryReader } from '@bufbuild/protobuf/wire';

const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lossy = new TextDecoder('utf-8', { ignoreBOM: true });
const repaired = new WeakMap<object, ReadonlySet<string>>();

/** A deserializer for grpc-js that decodes with repair tracking. */
export function trackingDeserializer<T extends object>(decode: (reader: BinaryReader) => T): (buf: Buffer) => T {
  return (buf) => {
    const bad = new Set<string>();
    const reader = new BinaryReader(buf, (bytes: Uint8Array) => {
      try {
        return fatal.decode(bytes);
      } catch {
        const s = lossy.decode(bytes);
        bad.add(s);
        return s;
      }
    });
    let msg: T;
    try {
      msg = decode(reader);
    } catch {
      // grpc-js turns a throwing deserializer into INTERNAL; malformed bytes are the client's error, so hand the
      // handler an empty message marked undecodable and let it answer INVALID_ARGUMENT.
      msg = decode(new BinaryReader(new Uint8Array(0)));
      undecodable.add(msg);
      return msg;
    }
    if (bad.size > 0) repaired.set(msg, bad);
    return msg;
  };
}

const undecodable = new WeakSet<object>();

/** Whether `msg` stands for bytes that were not a valid protobuf message. */
export function wasUndecodable(msg: object): boolean {
  return undecodable.has(msg);
}

/** Whether `value`, a string field of `msg`, was decoded from invalid UTF-8. */
export function wasInvalidUtf8(msg: object, value: string): boolean {
  return repaired.get(msg)?.has(value) ?? false;
}
