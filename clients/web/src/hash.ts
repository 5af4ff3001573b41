/** The payload hash the sync server checks: SHA-256 of the RFC 8785 JSON of an answer, in the browser. */
import canonicalize from 'canonicalize';

/** RFC 8785 (JCS) text of a JSON value: keys sorted by UTF-16 code units, ECMAScript number form. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value has no JSON form');
  return text;
}

/** Lowercase hex SHA-256 of the UTF-8 bytes of `text` (WebCrypto: browsers and Node 20). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** `payload_hash` of an attempt: the three fields exactly as they are sent. */
export function payloadHash(answeredAt: string, questionId: string, selectedOptionIndex: number): Promise<string> {
  return sha256Hex(
    canonicalJson({
      answered_at: answeredAt,
      question_id: questionId,
      selected_option_index: selectedOptionIndex,
    }),
  );
}
