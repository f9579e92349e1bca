/**
 * The frame scanner's two modes: decoding (every frame's head shown to `decide`) and counting (the fast path:
 * lengths only, chunks forwarded as they come), and switching between them at any chunk boundary, which is when
 * the proxy's API can arm or remove a zk_* toxic. Random frames in random chunks with random switches: every byte
 * comes out once and in order, and exactly the frames still whole in the scanner's hands when decoding is on are
 * decided, with their index and head.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameScanner, INSPECT_BYTES, type Cut } from './codec.ts';
import { frame } from './test-support.ts';

const MAX_FRAME = 4096;

interface Scenario {
  bodies: Buffer[];
  /** Where the stream is cut into chunks (offsets, any order, duplicates allowed). */
  cuts: number[];
  /** Before which chunk the mode is set, and to what. */
  switches: { beforeChunk: number; decoding: boolean }[];
  /** The frame `decide` answers 'cut' to, if it is decided. */
  cutFrame: number;
}

const scenario = fc.record({
  bodies: fc.array(fc.oneof(
    { weight: 5, arbitrary: fc.uint8Array({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: INSPECT_BYTES, maxLength: INSPECT_BYTES + 200 }) },
  ).map((bytes) => Buffer.from(bytes)), { minLength: 1, maxLength: 30 }),
  cuts: fc.array(fc.nat(), { maxLength: 40 }),
  switches: fc.array(fc.record({ beforeChunk: fc.nat({ max: 60 }), decoding: fc.boolean() }), { maxLength: 8 }),
  cutFrame: fc.integer({ min: -1, max: 30 }),
});

/** Feeds the scenario through a scanner; what came out, what was decided, and the cut if there was one. */
function run({ bodies, cuts, switches, cutFrame }: Scenario) {
  const stream = Buffer.concat(bodies.map(frame));
  const offsets = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort((a, b) => a - b);
  const chunks = [0, ...offsets, stream.length].slice(1).map((end, index, ends) => stream.subarray(index === 0 ? 0 : ends[index - 1]!, end)).filter((chunk) => chunk.length > 0);
  const forwarded: Buffer[] = [];
  const decided: { index: number; head: Buffer }[] = [];
  const scanner = new FrameScanner(MAX_FRAME, (head, index) => {
    decided.push({ index, head: Buffer.from(head) });
    return index === cutFrame ? 'cut' : 'pass';
  }, (bytes) => forwarded.push(Buffer.from(bytes)));
  const toggles: { at: number; decoding: boolean }[] = [];
  let offset = 0;
  let cut: Cut | undefined;
  let remaining: Buffer[] = [];
  for (let index = 0; index < chunks.length; index += 1) {
    for (const change of switches.filter((candidate) => candidate.beforeChunk === index)) {
      scanner.setDecoding(change.decoding);
      toggles.push({ at: offset, decoding: change.decoding });
    }
    cut = scanner.push(chunks[index]!);
    offset += chunks[index]!.length;
    if (cut !== undefined) {
      remaining = chunks.slice(index + 1);
      break;
    }
  }
  return { stream, forwarded, decided, toggles, cut, remaining };
}

/**
 * Which frames a correct scanner decides. A frame goes out (decided or counted) once the bytes its mode needs have
 * come: decoding, its head; counting, its length and one byte more. It is decided when the mode is decoding then;
 * a switch before that point changes what it waits for.
 */
function expectedDecided(bodies: Buffer[], toggles: { at: number; decoding: boolean }[]): number[] {
  const indices: number[] = [];
  let start = 0;
  bodies.forEach((body, index) => {
    let decoding = toggles.filter((toggle) => toggle.at <= start).reduce((_, toggle) => toggle.decoding, true);
    // Bytes come between switches at different offsets only: a run of switches at one offset acts as its last.
    for (const toggle of toggles.filter((candidate) => candidate.at > start)) {
      const need = Math.min(4 + body.length, decoding ? INSPECT_BYTES : 5);
      const bytesBefore = toggles.filter((candidate) => candidate.at === toggle.at)[0] === toggle;
      if (bytesBefore && start + need <= toggle.at) break;
      decoding = toggle.decoding;
    }
    if (decoding) indices.push(index);
    start += 4 + body.length;
  });
  return indices;
}

describe('FrameScanner', () => {
  it('forwards every byte once, in order, and decides exactly the frames not yet gone out when decoding is on', () => {
    fc.assert(fc.property(scenario, (input) => {
      const { stream, forwarded, decided, toggles, cut, remaining } = run(input);
      const expected = expectedDecided(input.bodies, toggles);
      const cutAt = expected.includes(input.cutFrame) ? input.cutFrame : undefined;
      // Decisions stop at the cut, whose frame is the last one decided.
      expect(decided.map((decision) => decision.index)).toEqual(cutAt === undefined ? expected : expected.filter((index) => index <= cutAt));
      let start = 0;
      const starts = input.bodies.map((body) => {
        const at = start;
        start += 4 + body.length;
        return at;
      });
      for (const { index, head } of decided) {
        expect(head.equals(stream.subarray(starts[index]!, starts[index]! + Math.min(4 + input.bodies[index]!.length, INSPECT_BYTES)))).toBe(true);
      }
      const out = Buffer.concat(forwarded);
      if (cutAt === undefined) {
        expect(cut).toBeUndefined();
        expect(out.equals(stream)).toBe(true);
      } else {
        // Nothing of the cut frame went out; it and everything after it is in the cut's rest and the chunks not fed.
        expect(cut?.malformed).toBeUndefined();
        expect(out.equals(stream.subarray(0, starts[cutAt]))).toBe(true);
        expect(Buffer.concat([...cut!.rest, ...remaining]).equals(stream.subarray(starts[cutAt]))).toBe(true);
      }
    }), { numRuns: 500 });
  });

  it('while counting, forwards chunks as they come, without asking about any frame, and never a length alone', () => {
    const forwarded: Buffer[] = [];
    const scanner = new FrameScanner(MAX_FRAME, () => {
      throw new Error('decided while counting');
    }, (bytes) => forwarded.push(bytes));
    scanner.setDecoding(false);
    const [first, second, third] = [frame(Buffer.alloc(10, 1)), frame(Buffer.alloc(300, 2)), frame(Buffer.alloc(50, 3))];
    // As the C client sends: a length, then its body.
    const chunks = [first.subarray(0, 4), first.subarray(4), second.subarray(0, 100), Buffer.concat([second.subarray(100), third.subarray(0, 4)]), third.subarray(4)];
    for (const chunk of chunks) expect(scanner.push(chunk)).toBeUndefined();
    expect(forwarded.map((bytes) => bytes.length)).toEqual([14, 100, 204, 54]);
    expect(forwarded[1]).toBe(chunks[2]); // no copy where nothing was kept back
    expect(Buffer.concat(forwarded).equals(Buffer.concat([first, second, third]))).toBe(true);
    expect(scanner.framesSeen).toBe(3);
  });

  it('while counting, a length out of bounds is malformed: what came before its frame went out, the rest is handed back', () => {
    const forwarded: Buffer[] = [];
    const scanner = new FrameScanner(MAX_FRAME, () => 'pass', (bytes) => forwarded.push(Buffer.from(bytes)));
    scanner.setDecoding(false);
    const good = frame(Buffer.from('fine'));
    const bad = Buffer.from([0xff, 0xff, 0xff, 0xfb, 1, 2, 3]);
    expect(scanner.push(Buffer.concat([good, bad.subarray(0, 2)]))).toBeUndefined();
    const cut = scanner.push(bad.subarray(2));
    expect(cut?.malformed).toBe(`frame length -5 outside 0..${MAX_FRAME}`);
    expect(Buffer.concat(forwarded).equals(good)).toBe(true);
    expect(Buffer.concat(cut!.rest).equals(bad)).toBe(true);
  });
});

describe('FrameScanner switched from within its decisions', () => {
  it('stays in step: every decided head is a real frame head, and every byte comes out once, in order', () => {
    fc.assert(fc.property(scenario, fc.array(fc.boolean(), { minLength: 1, maxLength: 50 }), (input, inside) => {
      const stream = Buffer.concat(input.bodies.map(frame));
      const starts: number[] = [];
      input.bodies.reduce((at, body) => (starts.push(at), at + 4 + body.length), 0);
      const offsets = [...new Set(input.cuts.map((cut) => cut % (stream.length + 1)))].sort((a, b) => a - b);
      const chunks = [0, ...offsets, stream.length].slice(1).map((end, index, ends) => stream.subarray(index === 0 ? 0 : ends[index - 1]!, end)).filter((chunk) => chunk.length > 0);
      const forwarded: Buffer[] = [];
      let decisions = 0;
      const scanner: FrameScanner = new FrameScanner(MAX_FRAME, (head, index) => {
        expect(head.equals(stream.subarray(starts[index]!, starts[index]! + head.length))).toBe(true);
        scanner.setDecoding(inside[decisions++ % inside.length]!);
        return 'pass';
      }, (bytes) => forwarded.push(Buffer.from(bytes)));
      chunks.forEach((chunk, index) => {
        for (const change of input.switches.filter((candidate) => candidate.beforeChunk === index)) scanner.setDecoding(change.decoding);
        expect(scanner.push(chunk)).toBeUndefined();
      });
      expect(Buffer.concat(forwarded).equals(stream)).toBe(true);
    }), { numRuns: 500 });
  });
});
