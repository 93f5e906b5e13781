/**
 * Byte-level progress for the store commands that move or hash many bytes (export, import,
 * verify): the same shape as the CLI's progress line, reported per chunk.
 */
import type { ByteSource } from "./blobs.ts";

export interface StoreProgress {
  /** 1-based number of the blob being processed, and how many there are */
  item: number;
  itemCount: number;
  /** the blob's digest */
  label: string;
  bytesDone: number;
  bytesTotal: number;
}

export type OnStoreProgress = (progress: StoreProgress) => void;

/** Counts blobs and bytes across a whole command and reports every chunk. */
export class ProgressTracker {
  private state: StoreProgress;

  constructor(
    itemCount: number,
    bytesTotal: number,
    private readonly on?: OnStoreProgress,
  ) {
    this.state = { item: 0, itemCount, label: "", bytesDone: 0, bytesTotal };
  }

  /** Totals learnt late (a tar's manifests are read before its blobs). */
  setTotals(itemCount: number, bytesTotal: number): void {
    this.state.itemCount = Math.max(itemCount, this.state.item);
    this.state.bytesTotal = Math.max(bytesTotal, this.state.bytesDone);
  }

  /** `source`, passed through chunk by chunk while counting it as the next blob, `label`. */
  async *track(label: string, source: ByteSource): AsyncGenerator<Uint8Array> {
    const s = this.state;
    s.item++;
    s.itemCount = Math.max(s.itemCount, s.item);
    s.label = label;
    this.on?.({ ...s });
    for await (const chunk of source) {
      s.bytesDone += chunk.byteLength;
      s.bytesTotal = Math.max(s.bytesTotal, s.bytesDone);
      this.on?.({ ...s });
      yield chunk;
    }
  }
}
