/**
 * Memory that starts on a page boundary, for writes that bypass the page cache (O_DIRECT wants
 * the buffer, the file offset and the length aligned). JavaScript cannot ask for an address, but
 * a WebAssembly memory is mapped whole pages at a time: its buffer starts on a page. Shared, so
 * a worker can fill it while the main thread writes it.
 */

export const PAGE = 4096;
const WASM_PAGE = 64 * 1024;

const aligned = new WeakSet<ArrayBufferLike>();

/** The part of the WebAssembly global used here (the node typings leave it out). */
interface WasmMemoryConstructor {
  new (descriptor: { initial: number; maximum: number; shared: boolean }): { buffer: SharedArrayBuffer };
}

/**
 * `bytes` (a multiple of 64 KiB) of shared memory, page-aligned when WebAssembly is available
 * (it is not in a V8 running without JIT); otherwise a plain SharedArrayBuffer, which the file
 * writer then treats as unaligned.
 */
export function pageAlignedMemory(bytes: number): SharedArrayBuffer {
  const pages = Math.ceil(bytes / WASM_PAGE);
  try {
    const Memory = (globalThis as unknown as { WebAssembly: { Memory: WasmMemoryConstructor } }).WebAssembly.Memory;
    const buffer = new Memory({ initial: pages, maximum: pages, shared: true }).buffer;
    aligned.add(buffer);
    return buffer;
  } catch {
    return new SharedArrayBuffer(pages * WASM_PAGE);
  }
}

/** True when `bytes` starts on a page of memory from pageAlignedMemory and spans whole pages. */
export function isPageAligned(bytes: Uint8Array): boolean {
  return aligned.has(bytes.buffer) && bytes.byteOffset % PAGE === 0 && bytes.byteLength % PAGE === 0;
}
