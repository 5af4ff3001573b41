/** Reads from the API (writes go through the queue). Every call says plainly when it could not reach the server. */
export class ApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

export interface PackageSummary {
  package_id: string;
  name: string;
  scope: string;
  scope_data: Record<string, unknown>;
  version: number;
  version_hash: string;
  question_count: number;
}

export interface QuestionSnapshot {
  question_id: string;
  stem: string;
  options: string[];
  correct_index: number;
  explanation: string;
}

export interface TestPackage extends PackageSummary {
  description: string;
  questions: QuestionSnapshot[];
}

export interface ProgressRecord {
  server_id: string;
  profile_id: string;
  idempotency_key: string;
  activity_type: string;
  content_id: string;
  score: number;
  duration_seconds?: number;
  timestamp: string;
  server_received_at: string;
}

export interface ProgressPage {
  items: ProgressRecord[];
  /** Empty on the last page (AIP-158); older servers return one on every page. */
  next_page_token: string;
  /** Where a later pull starts to get only what is new (absent on older servers). */
  resume_token?: string;
}

export interface SessionView {
  session_id: string;
  answered_count: number;
  correct_count: number;
}

export class Api {
  constructor(private readonly token: () => string, private readonly fetcher: typeof fetch = (...a) => fetch(...a)) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${this.token()}`);
    let response: Response;
    try {
      response = await this.fetcher(path, { cache: 'no-store', ...init, headers });
    } catch {
      throw new ApiError('No connection', 0);
    }
    if (response.status === 429 || response.status >= 500) {
      // The gateway's text for these is for operators ("upstream connect error…"), not for parents.
      throw new ApiError(`The server is busy or briefly down (HTTP ${response.status}); it will be tried again`, response.status);
    }
    if (!response.ok && response.status !== 304) {
      let message = response.statusText;
      try {
        message = ((await response.json()) as { message?: string }).message ?? message;
      } catch {
        // not JSON: keep the status text
      }
      throw new ApiError(`HTTP ${response.status}: ${message}`, response.status);
    }
    return response;
  }

  async json<T>(path: string, init?: RequestInit): Promise<T> {
    return (await (await this.request(path, init)).json()) as T;
  }

  listPackages(scope: string): Promise<{ packages: PackageSummary[] }> {
    const query = new URLSearchParams({ page_size: '200' });
    if (scope) query.set('scope', scope);
    return this.json(`/api/v1/tests/packages?${query}`);
  }

  /** One page of the read-back: `page_token` continues a listing, `resume_token` starts after an earlier one. */
  listProgress(profileId: string, cursor: { page_token?: string; resume_token?: string } = {}): Promise<ProgressPage> {
    const query = new URLSearchParams({ profile_id: profileId, page_size: '500' });
    if (cursor.page_token) query.set('page_token', cursor.page_token);
    if (cursor.resume_token) query.set('resume_token', cursor.resume_token);
    return this.json(`/api/v1/progress?${query}`);
  }

  getSession(sessionId: string): Promise<SessionView> {
    return this.json(`/api/v1/sync/sessions/${encodeURIComponent(sessionId)}`);
  }

  features(profileId: string): Promise<{ offline_progress?: boolean }> {
    return this.json(`/api/v1/features?${new URLSearchParams({ profile_id: profileId })}`);
  }
}
