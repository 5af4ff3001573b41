/** Plain sentences for the server's refusal codes: parents read the sentence, support reads the code. */

const PLAIN: Record<string, string> = {
  IDEMPOTENCY_KEY_REUSED: 'Another activity was already saved under the same id, so the server kept that one.',
  INVALID_FIELD: 'The server could not accept it as it was saved on this device.',
  INVALID_OPTION_INDEX: 'The chosen answer is not one of the question’s options any more (the question was changed).',
  QUESTION_NOT_FOUND: 'The question is no longer available on the server.',
  PACKAGE_NOT_PUBLISHED: 'The package is not published, so its answers cannot be counted.',
  SESSION_NOT_FOUND: 'The practice session is not known to the server.',
  PAYLOAD_HASH_MISMATCH: 'The answer did not arrive as it was saved, so the server refused it.',
};
const FALLBACK = 'The server refused it.';

export interface Refusal {
  /** A sentence for people. */
  plain: string;
  /** The server's own words (`CODE: message`), for support; empty when there are none. */
  detail: string;
}

/** The stored reason of a failed item is `CODE: message` (or only a message, from older servers). */
export function explainRefusal(reason: string | undefined): Refusal {
  const text = (reason ?? '').trim();
  const code = /^([A-Z][A-Z0-9_]+)(?::|$)/.exec(text)?.[1];
  return { plain: (code && PLAIN[code]) || FALLBACK, detail: text };
}
