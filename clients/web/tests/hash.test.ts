import { describe, expect, it } from 'vitest';
import { canonicalJson, payloadHash, sha256Hex } from '../src/hash';

describe('payload_hash', () => {
  it('matches the server documented vector', async () => {
    expect(await payloadHash('2026-01-28T10:00:00Z', '550e8400-e29b-41d4-a716-446655440000', 2)).toBe(
      '4c090984a59565b1b3130a09db58b6c47422b722b7079c8b083b1361d84ceb51',
    );
  });

  it('hashes the canonical text, whatever order the fields were given in', async () => {
    const canonical =
      '{"answered_at":"2026-01-28T10:00:00Z","question_id":"550e8400-e29b-41d4-a716-446655440000","selected_option_index":2}';
    expect(
      canonicalJson({ selected_option_index: 2, question_id: '550e8400-e29b-41d4-a716-446655440000', answered_at: '2026-01-28T10:00:00Z' }),
    ).toBe(canonical);
    expect(await sha256Hex(canonical)).toBe('4c090984a59565b1b3130a09db58b6c47422b722b7079c8b083b1361d84ceb51');
  });

  it('changes when any field changes', async () => {
    const base = await payloadHash('2026-01-28T10:00:00Z', 'q', 2);
    expect(await payloadHash('2026-01-28T10:00:00.000Z', 'q', 2)).not.toBe(base);
    expect(await payloadHash('2026-01-28T10:00:00Z', 'q', 3)).not.toBe(base);
  });
});

describe('RFC 8785 canonical JSON', () => {
  it('orders non-ASCII keys by UTF-16 code units, not code points or UTF-8 bytes', () => {
    // U+1F600 is the surrogate pair D83D DE00, so it sorts before U+FB33 (UTF-16 order);
    // by code point or UTF-8 bytes it would come after. Example from RFC 8785 section 3.2.3.
    const value = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' };
    // Read the keys from the text: JSON.parse + Object.keys would move the integer-like '1' first.
    const keys = [...canonicalJson(value).matchAll(/"((?:[^"\\]|\\.)*)":/g)].map((m) => JSON.parse(`"${m[1]}"`));
    expect(keys).toEqual(['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33']);
  });

  it('writes numbers in ECMAScript form and strings with minimal escapes', () => {
    expect(canonicalJson({ b: 1e21, a: 2.0, c: 0.000001, d: 'é\n"' })).toBe('{"a":2,"b":1e+21,"c":0.000001,"d":"é\\n\\""}');
  });

  it('refuses what has no canonical form', () => {
    expect(() => canonicalJson({ x: Number.NaN })).toThrow();
    expect(() => canonicalJson({ x: '\ud800' })).toThrow();
  });
});
