import { describe, expect, it } from "vitest";
import { createProgressReporter, formatDuration, formatProgressLine } from "../src/cli/progress.ts";

/** A stand-in for process.stderr that records what is written. */
function fakeStream(isTTY: boolean, columns = 200) {
  const writes: string[] = [];
  const stream = { isTTY, columns, write: (s: string) => (writes.push(s), true) } as unknown as NodeJS.WriteStream;
  return { stream, writes };
}

const state = (item: number, bytesDone: number) => ({ item, itemCount: 21, label: "blk.0.attn_q.weight", bytesDone, bytesTotal: 40e6 });

describe("progress reporter", () => {
  it("formats tensor i/n, MB/s, bytes and time left", () => {
    expect(formatProgressLine(state(3, 10e6), 2)).toBe("[ 3/21] blk.0.attn_q.weight  5.0 MB/s  10.0 MB / 40.0 MB  0:06 left");
    expect(formatProgressLine(state(1, 0), 0)).toMatch(/\? left$/);
    expect(formatDuration(3725)).toBe("1:02:05");
    expect(formatDuration(59.6)).toBe("1:00");
  });

  it("on a terminal redraws one line in place and erases it when done", () => {
    const { stream, writes } = fakeStream(true, 30);
    const p = createProgressReporter({ stream });
    p.update(state(1, 0));
    p.update(state(1, 1)); // within 100 ms: skipped
    p.update(state(21, 40e6)); // the last update is always drawn
    p.done();
    expect(writes).toHaveLength(3);
    expect(writes[0].startsWith("\r\x1b[2K[ 1/21] blk.0.attn_q")).toBe(true);
    expect(writes[0].length).toBeLessThanOrEqual("\r\x1b[2K".length + 29); // cut to the terminal width
    expect(writes[1].startsWith("\r\x1b[2K[21/21]")).toBe(true);
    expect(writes[2]).toBe("\r\x1b[2K");
  });

  it("prints nothing when stderr is not a terminal, or with --quiet", () => {
    for (const { stream, writes, quiet } of [{ ...fakeStream(false), quiet: false }, { ...fakeStream(true), quiet: true }]) {
      const p = createProgressReporter({ stream, quiet });
      p.update(state(21, 40e6));
      p.done();
      expect(writes).toEqual([]);
    }
  });
});
